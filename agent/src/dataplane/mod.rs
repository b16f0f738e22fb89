//! Container wiring and desired routes.
