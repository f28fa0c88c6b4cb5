//! Each function's own decision: which finding types it acts on, and the
//! checks of its kind of resource. [`crate::plan::decide`] picks the module
//! by function; the gates every function shares (sample, archived, account,
//! severity) stay in `plan`.

pub(crate) mod cloudtrail;
pub(crate) mod containers;
pub(crate) mod ec2;
pub(crate) mod iam;
pub(crate) mod lambda;
pub(crate) mod notify;
pub(crate) mod rds;
pub(crate) mod s3;

pub use containers::closing_commands;

pub(crate) use crate::plan::{gates, matches_any, severity_gate};
