"""Training in a child process, for the widget: the parent's side (:mod:`.client`), the child
(:mod:`.child`) and the autosave that survives a crash (:mod:`.recovery`)."""
