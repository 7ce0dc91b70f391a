//! casegrid-projection
