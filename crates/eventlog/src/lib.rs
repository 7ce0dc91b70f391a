//! casegrid-eventlog
