"""Web analytics events: JSON page-view and shop events from the site tracker, streamed in real time."""
