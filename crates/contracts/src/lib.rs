//! casegrid-contracts
