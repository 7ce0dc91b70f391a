//! casegrid-routing
