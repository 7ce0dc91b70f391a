//! casegrid-testkit
