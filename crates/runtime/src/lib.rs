//! casegrid-runtime
