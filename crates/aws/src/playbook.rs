//! A playbook: what one function does with the plans `responder-core`
//! decides for it. Each lives in the crate of the SDK family it calls
//! (`responder-ec2`, `responder-iam`, …) and names its own clients, so a
//! function binary, generic over its playbook, links that family alone.
//!
//! The [`crate::Responder`] does everything around it: parse, decide,
//! confirm the finding with GuardDuty, pick the account and region's
//! clients, split an attack sequence into its parts, report and publish.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use futures::future::BoxFuture;
use responder_core::event::FindingEvent;
use responder_core::{Function, Plan, Settings};

use crate::cloud::{Clients, Cloud};
use crate::steps::Execution;
use crate::verify::Gate;

/// What a playbook is given besides its plan and clients.
#[derive(Debug, Clone)]
pub struct Job<'a, C = ()> {
    pub event: &'a FindingEvent,
    /// The clients of the function's own (security) account in the
    /// finding's region: where evidence is kept out of the member account's
    /// reach. The same clients as the plan's when the finding is this
    /// account's own.
    pub home: Arc<Cloud<C>>,
    pub settings: &'a Settings,
    /// When the invocation will be killed.
    pub deadline: Option<Instant>,
    /// Opens when GuardDuty has confirmed the finding; no change before.
    pub gate: Gate,
}

impl<C> Job<'_, C> {
    pub fn finding_id(&self) -> &str {
        &self.event.finding.id
    }
}

pub trait Playbook: fmt::Debug + Send + Sync + 'static {
    /// The function this playbook is.
    const FUNCTION: Function;
    /// The service clients it calls, per account and region.
    type Clients: Clients;

    /// Carries out one plan `decide` made for [`Self::FUNCTION`] (never a
    /// `Plan::Sequence`: the responder runs each part through here).
    fn run<'a>(
        &'a self,
        cloud: &'a Cloud<Self::Clients>,
        plan: &'a Plan,
        job: Job<'a, Self::Clients>,
    ) -> BoxFuture<'a, Execution>;
}

/// A plan of another function reached this playbook: a wiring mistake,
/// reported as a failed step rather than a panic.
pub fn not_mine(function: Function, plan: &Plan) -> Execution {
    let mut run = Execution::default();
    run.log.push(
        "plan",
        &plan.resource(),
        Err(crate::failure::AwsFailure::rejected(format!(
            "{function} does not carry out this plan: {}",
            plan.describe()
        ))),
    );
    run
}
