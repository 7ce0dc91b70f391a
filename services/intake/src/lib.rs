//! casegrid-intake
