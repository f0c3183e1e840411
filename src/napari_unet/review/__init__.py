"""Looking at a prediction: measuring objects (:mod:`.measure`) and where to paint next (:mod:`.suggest`)."""
