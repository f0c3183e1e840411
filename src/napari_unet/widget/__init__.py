"""The napari dock widget (:mod:`.dock`): Qt lives only here. One module per job (training,
prediction, live preview, inspect, suggestions, models, export), the panels, the saved settings,
and the Qt-free :mod:`.controller` between the widget and the trainer."""
