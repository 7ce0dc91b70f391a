//! casegrid-gateway
