//! casegrid-readmodel
