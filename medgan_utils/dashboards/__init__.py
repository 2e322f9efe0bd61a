"""ipywidgets dashboards, used in the chapters and standalone under Voila."""
