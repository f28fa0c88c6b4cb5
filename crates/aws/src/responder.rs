//! One invocation, start to end: parse, decide, act, report, publish. The
//! Lambda glue ([`crate::lambda`]) and the tests both call
//! [`Responder::handle`] with raw payload bytes.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use futures::future::BoxFuture;
use responder_core::event::FindingEvent;
use responder_core::plan::Skip;
use responder_core::report::Notification;
use responder_core::request::{Action, ActionRequest, FindingRef, is_security_hub_event, parse_action};
use responder_core::{
    AccountId, Decision, Function, Outcome, Plan, Policy, Report, Settings, StepStatus, decide, parse_event,
};
use tracing::Instrument;

use crate::cloud::{Cloud, Clouds, MemberRole, load_sdk_config, own_identity};
use crate::evidence::EvidenceStore;
use crate::failure::AwsFailure;
use crate::playbook::{Job, Playbook};
use crate::steps::{Execution, StepLog};
use crate::verify::{Closed, Detectors, Gate, closed_gate, gate, open_gate};

/// Why an invocation failed. The `error_type` is what Lambda records and
/// what retry and dead-letter handling key on.
#[derive(Debug, Clone, PartialEq)]
pub struct HandlerError {
    pub error_type: &'static str,
    pub message: String,
    /// The report so far, when steps ran before the failure.
    pub report: Option<Box<Report>>,
}

impl HandlerError {
    /// Not a GuardDuty finding event: not retried, kept in the dead-letter queue.
    pub const INVALID_EVENT: &'static str = "InvalidEvent";
    /// A transient AWS failure: Lambda retries the event; steps are idempotent.
    pub const RETRYABLE: &'static str = "RetryableAwsError";

    /// A retryable failure whose message is `why`, then the report so far
    /// as JSON (what Lambda's logs and the failed-events queue keep).
    fn retryable_with(why: &str, report: Report) -> Self {
        HandlerError {
            error_type: Self::RETRYABLE,
            message: format!("{why}: {}", serde_json::to_string(&report).unwrap_or_default()),
            report: Some(Box::new(report)),
        }
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error_type, self.message)
    }
}

impl std::error::Error for HandlerError {}

/// What a function answers: one report, or one per finding when a custom
/// action named several.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum Answer {
    One(Box<Report>),
    Many { reports: Vec<Report> },
}

impl Answer {
    pub fn reports(&self) -> &[Report] {
        match self {
            Answer::One(report) => std::slice::from_ref(report),
            Answer::Many { reports } => reports,
        }
    }
}

/// A person asked for this response.
#[derive(Debug, Clone)]
struct Requested {
    by: String,
    action: Action,
}

fn invalid(e: responder_core::InvalidEvent) -> HandlerError {
    HandlerError { error_type: HandlerError::INVALID_EVENT, message: e.to_string(), report: None }
}

/// The report an invocation ended with, whether it succeeded or failed, and
/// the error type when it failed.
pub fn report_of(result: &Result<Report, HandlerError>) -> (Option<&Report>, Option<&'static str>) {
    match result {
        Ok(report) => (Some(report), None),
        Err(e) => (e.report.as_deref(), Some(e.error_type)),
    }
}

/// Start-up failed: bad settings.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    Settings(#[from] responder_core::settings::SettingsError),
}

/// One function: its playbook, settings and clients, built once per container.
///
/// Start-up sends no request: what the function must learn about itself (its
/// account, and for the functions that act on roles, its own role) is
/// learnt with the first finding, see [`Responder::known`].
#[derive(Debug)]
pub struct Responder<P: Playbook> {
    pub playbook: P,
    /// The settings as read; [`Known::settings`] adds the own account and role.
    pub settings: Settings,
    config: aws_config::SdkConfig,
    /// The function's own clients, built at start-up without an account:
    /// to ask STS who this is, to publish, and, once the account is known,
    /// the home clients of [`Known::clouds`].
    probe: Cloud<P::Clients>,
    /// The account the Lambda invocation names (its function ARN's).
    account_hint: std::sync::OnceLock<AccountId>,
    known: tokio::sync::OnceCell<Known<P::Clients>>,
    /// The administrator account's GuardDuty detectors, found once.
    detectors: Detectors,
    /// Where each response's evidence record goes (`EVIDENCE_BUCKET`).
    pub evidence: Option<EvidenceStore>,
    /// Where each report goes as an OCSF document (`SIEM_BUCKET`).
    siem: Option<(aws_sdk_s3::Client, String)>,
}

/// What the function learns about itself with its first finding.
#[derive(Debug)]
pub struct Known<C> {
    /// The settings, with the own account as the home account and the own
    /// role among the protected principals.
    pub settings: Settings,
    pub clouds: Clouds<C>,
}

/// Any function's responder, for whoever holds several (the operator CLI,
/// the tests): the playbook erased.
pub trait Handle: Send + Sync {
    fn function(&self) -> Function;
    fn handle<'a>(
        &'a self,
        payload: &'a [u8],
        deadline: Option<Instant>,
    ) -> BoxFuture<'a, Result<Report, HandlerError>>;
    /// As the Lambda function answers: one report per finding.
    fn answer<'a>(
        &'a self,
        payload: &'a [u8],
        deadline: Option<Instant>,
    ) -> BoxFuture<'a, Result<Answer, HandlerError>>;
    /// A finding event a person asks this function to act on (`responder
    /// respond`): no severity threshold, no approval mode.
    fn handle_requested<'a>(
        &'a self,
        payload: &'a [u8],
        requested_by: &'a str,
        deadline: Option<Instant>,
    ) -> BoxFuture<'a, Result<Report, HandlerError>>;
}

impl<P: Playbook> Handle for Responder<P> {
    fn function(&self) -> Function {
        P::FUNCTION
    }
    fn handle<'a>(
        &'a self,
        payload: &'a [u8],
        deadline: Option<Instant>,
    ) -> BoxFuture<'a, Result<Report, HandlerError>> {
        Box::pin(Responder::handle(self, payload, deadline))
    }
    fn answer<'a>(
        &'a self,
        payload: &'a [u8],
        deadline: Option<Instant>,
    ) -> BoxFuture<'a, Result<Answer, HandlerError>> {
        Box::pin(Responder::answer(self, payload, deadline))
    }
    fn handle_requested<'a>(
        &'a self,
        payload: &'a [u8],
        requested_by: &'a str,
        deadline: Option<Instant>,
    ) -> BoxFuture<'a, Result<Report, HandlerError>> {
        Box::pin(async move {
            let event = parse_event(payload).map_err(invalid)?;
            let asked = Requested { by: requested_by.to_owned(), action: Action::Contain };
            let result = Box::pin(self.respond_to(&event, payload, deadline, Some(&asked))).await;
            if let (Some(report), _) = report_of(&result) {
                log_steps(report);
            }
            result
        })
    }
}

impl<P: Playbook> Responder<P> {
    /// Reads settings and builds clients; sends nothing.
    pub async fn from_env(playbook: P) -> Result<Self, InitError> {
        let settings = Settings::from_env()?;
        Self::new(playbook, settings, load_sdk_config().await).await
    }

    /// Also protects the function's own role and the member role: a
    /// responder that revoked its own sessions would end every later
    /// containment. Only the functions that change things confirm findings
    /// first.
    pub async fn new(playbook: P, mut settings: Settings, config: aws_config::SdkConfig) -> Result<Self, InitError> {
        settings.verify_findings &= P::FUNCTION.remediates();
        // The member role the functions act through is protected from the
        // start; the function's own role once it is known.
        let member = settings.member_role_name.iter().map(|r| responder_core::pattern::Pattern::new(r.clone()));
        let member: Vec<_> = member.collect();
        settings.policy.protected_principals.extend(member);
        let evidence = settings.evidence.bucket.clone().map(|bucket| EvidenceStore {
            s3: crate::evidence::s3_client(&config),
            bucket,
            key_arn: settings.evidence.key_arn.clone(),
        });
        let siem = settings.siem_bucket.clone().map(|bucket| (crate::evidence::s3_client(&config), bucket));
        Ok(Responder {
            playbook,
            evidence,
            siem,
            probe: Cloud::new(&config),
            config,
            account_hint: std::sync::OnceLock::new(),
            known: tokio::sync::OnceCell::new(),
            detectors: Detectors::new(settings.guardduty_detector_id.clone()),
            settings,
        })
    }

    /// Takes the own account from the function ARN a Lambda invocation
    /// names (`arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME`), so the
    /// first finding need not wait for STS to say it. Ignored once known.
    pub fn learn_account_from(&self, function_arn: &str) {
        if let Some(account) = function_arn.split(':').nth(4).and_then(|a| AccountId::parse(a).ok()) {
            let _ = self.account_hint.set(account);
        }
    }

    /// The own account and role, learnt once. A function that can act on
    /// IAM roles asks STS before its first decision, whatever the invocation
    /// says: it must know its own role to never act on it. The others take
    /// the account the invocation names and send nothing; without one (the
    /// CLI, the tests) they ask STS too.
    pub async fn known(&self) -> Result<&Known<P::Clients>, AwsFailure> {
        self.known
            .get_or_try_init(|| async {
                let hinted = self.account_hint.get().filter(|_| !P::FUNCTION.acts_on_roles());
                let (account, role) = match hinted {
                    Some(account) => (account.clone(), None),
                    None => {
                        let identity = own_identity(&self.probe).await?;
                        (identity.account, identity.role_name)
                    }
                };
                let mut settings = self.settings.clone();
                settings.policy.home_account = Some(account.clone());
                settings.policy.protected_principals.extend(role.map(responder_core::pattern::Pattern::new));
                let member_role = MemberRole::of(&settings);
                let clouds = Clouds::around(self.config.clone(), self.probe.clone(), Some(account), member_role);
                Ok(Known { settings, clouds })
            })
            .await
    }

    /// Handles one raw payload, and logs one line per step it reports
    /// (finding id, step, target, status, duration).
    pub async fn handle(&self, payload: &[u8], deadline: Option<Instant>) -> Result<Report, HandlerError> {
        let result = self.respond(payload, deadline).await;
        if let (Some(report), _) = report_of(&result) {
            log_steps(report);
        }
        result
    }

    /// Handles one raw payload that may carry several findings (a custom
    /// action on a selection): one report per finding, in order.
    pub async fn answer(&self, payload: &[u8], deadline: Option<Instant>) -> Result<Answer, HandlerError> {
        if !is_security_hub_event(payload) {
            return self.handle(payload, deadline).await.map(|r| Answer::One(Box::new(r)));
        }
        let request = parse_action(payload).map_err(invalid)?;
        let mut reports = Vec::with_capacity(request.findings.len());
        for found in &request.findings {
            let result = Box::pin(self.requested(&request, found, deadline)).await;
            if let (Some(report), _) = report_of(&result) {
                log_steps(report);
            }
            reports.push(result?);
        }
        Ok(if reports.len() == 1 { Answer::One(Box::new(reports.remove(0))) } else { Answer::Many { reports } })
    }

    async fn respond(&self, payload: &[u8], deadline: Option<Instant>) -> Result<Report, HandlerError> {
        if is_security_hub_event(payload) {
            let request = parse_action(payload).map_err(invalid)?;
            let Some(first) = request.findings.first() else {
                return Err(invalid(responder_core::InvalidEvent::new("the custom action names no finding")));
            };
            return Box::pin(self.requested(&request, first, deadline)).await;
        }
        let event = parse_event(payload).map_err(invalid)?;
        let finding = &event.finding;
        let span = tracing::info_span!("finding", finding_id = %finding.id, finding_type = %finding.finding_type, function = %P::FUNCTION);
        Box::pin(self.respond_to(&event, payload, deadline, None)).instrument(span).await
    }

    /// A person's request for one finding: GuardDuty's own finding is
    /// fetched (the ASFF copy is trusted for nothing but which finding it
    /// is) and answered as its event would be, without the severity
    /// threshold or approval mode.
    async fn requested(
        &self,
        request: &ActionRequest,
        found: &FindingRef,
        deadline: Option<Instant>,
    ) -> Result<Report, HandlerError> {
        let span = tracing::info_span!("request", finding_id = %found.id, action = request.action.name(), function = %P::FUNCTION);
        let receiving = request
            .receiving_account
            .clone()
            .or_else(|| self.account_hint.get().map(ToString::to_string))
            .unwrap_or_default();
        let fetched = async {
            let home = self.home_in(&found.region).await?;
            crate::verify::fetch_finding(&home.guardduty, &self.detectors, &found.region, &found.id).await
        }
        .instrument(span.clone())
        .await;
        let requested_by = request.requested_by();
        let finding = match fetched {
            Ok(Some(finding)) => finding,
            Ok(None) => {
                let why = format!(
                    "GuardDuty has no finding {} in {}: nothing is done for a finding it does not have",
                    found.id, found.region
                );
                return Ok(self.unfetched(found, &requested_by, Err(AwsFailure::rejected(why))).await);
            }
            Err(failure) => {
                let retry = failure.retryable();
                let report = self.unfetched(found, &requested_by, Err(failure)).await;
                if retry {
                    return Err(HandlerError {
                        error_type: HandlerError::RETRYABLE,
                        message: format!("GuardDuty could not be asked for finding {}; retrying", found.id),
                        report: Some(Box::new(report)),
                    });
                }
                return Ok(report);
            }
        };
        let (payload, event) =
            responder_core::request::fetched_event(&finding, &receiving, &now_rfc3339()).map_err(invalid)?;
        let asked = Requested { by: requested_by, action: request.action };
        Box::pin(self.respond_to(&event, &payload, deadline, Some(&asked))).instrument(span).await
    }

    /// The report of a finding the function could not act on because it
    /// could not learn its own account and role: nothing was done; the
    /// team hears it; a transient failure is retried.
    async fn unknown_self(&self, event: &FindingEvent, failure: AwsFailure) -> Result<Report, HandlerError> {
        let retry = failure.retryable();
        let mut log = StepLog::default();
        log.push("learn-own-identity", "sts:GetCallerIdentity", Err(failure));
        let mut report = base_report(P::FUNCTION, event);
        report.steps = log.records;
        report.outcome = Outcome::Failed;
        report.reason = report.steps.first().map(|s| format!("the function could not learn who it is: {}", s.detail));
        let (notification, _) = self.publish(&report).await;
        report.notification = Some(notification);
        if retry {
            return Err(HandlerError::retryable_with(
                "the function could not learn its own account and role; retrying",
                report,
            ));
        }
        Ok(report)
    }

    /// The report of a request whose finding could not be fetched.
    async fn unfetched(&self, found: &FindingRef, by: &str, fetched: Result<crate::steps::Held, AwsFailure>) -> Report {
        let mut log = StepLog::default();
        log.push("fetch-finding", &found.arn, fetched);
        let mut report = Report {
            steps: log.records,
            account: Some(found.account.to_string()),
            region: Some(found.region.clone()),
            requested_by: Some(by.to_owned()),
            ..Report::new(P::FUNCTION.name(), &found.id, "", Outcome::Failed)
        };
        report.reason = report.steps.first().map(|s| s.detail.clone());
        let (notification, _) = self.publish(&report).await;
        report.notification = Some(notification);
        report
    }

    async fn respond_to(
        &self,
        event: &FindingEvent,
        payload: &[u8],
        deadline: Option<Instant>,
        requested: Option<&Requested>,
    ) -> Result<Report, HandlerError> {
        let function = P::FUNCTION;
        let finding = &event.finding;
        let known = match self.known().await {
            Ok(known) => known,
            Err(failure) => return self.unknown_self(event, failure).await,
        };
        let settings = &known.settings;
        // A person's request lifts the thresholds and approval mode, nothing else.
        let lifted;
        let policy = match requested {
            Some(asked) => {
                lifted = Policy {
                    // A finding archived as a false positive is released all the same.
                    act_on_archived: settings.policy.act_on_archived || asked.action == Action::Release,
                    ..settings.policy.for_person()
                };
                &lifted
            }
            None => &settings.policy,
        };

        let mut report = base_report(function, event);
        report.requested_by = requested.map(|r| r.by.clone());
        let (mut report, transient) = match decide(function, finding, policy) {
            Decision::Skip(skip) => {
                // A person who asked hears why nothing was done, unless the
                // finding was simply another function's.
                let publish =
                    worth_publishing(&skip) || (requested.is_some() && !matches!(skip, Skip::NotForThisFunction(_)));
                report.outcome = Outcome::Skipped;
                report.reason = Some(skip.to_string());
                tracing::info!(reason = %skip, kind = skip.kind(), "skipped");
                if !publish {
                    return Ok(report);
                }
                (report, false)
            }
            Decision::Act(plan @ Plan::Alert { .. }) => {
                return self.alert(report, event, &plan, deadline, settings).await;
            }
            Decision::Act(plan) if requested.is_some_and(|r| r.action == Action::Release) => {
                // The functions hold no permission to undo a containment: a
                // function that could release is one event away from
                // releasing for an attacker. The request is confirmed and
                // handed to the people who hold the release role.
                report.resource = Some(plan.resource());
                report.outcome = Outcome::Skipped;
                report.reason = Some(format!(
                    "release requested for {}: the functions cannot undo a containment; a person with the release role runs `responder release --finding-id {}` (add --false-positive to archive the finding and tell GuardDuty)",
                    plan.resource(),
                    finding.id
                ));
                (report, false)
            }
            Decision::Act(plan) => match policy.approval.needed_for(finding) {
                Some(why) => {
                    // Proposed: the plan as a dry run, for a person to approve.
                    let proposing = Settings { policy: Policy { dry_run: true, ..policy.clone() }, ..settings.clone() };
                    let execution = Box::pin(self.execute(&plan, event, deadline, &proposing)).await;
                    report.resource = Some(plan.resource());
                    let (mut report, transient) = finish(report, execution, true);
                    report.outcome = Outcome::Skipped;
                    report.reason = Some(format!(
                        "approval required ({why}): nothing was changed; to carry out the planned steps, run the Security Hub custom action \"{}\" on this finding, or `responder respond --finding-id {}`",
                        Action::Contain.name(),
                        finding.id
                    ));
                    (report, transient)
                }
                None => {
                    let mut execution = Box::pin(self.execute(&plan, event, deadline, settings)).await;
                    Box::pin(self.keep_evidence(&mut execution, event, payload)).await;
                    report.resource = Some(plan.resource());
                    finish(report, execution, policy.dry_run)
                }
            },
        };

        if self.settings.security_hub_write_back && function.remediates() {
            report.security_hub = Some(Box::pin(self.write_back(finding, &report)).await);
        }
        let (notification, publish_transient) = Box::pin(self.publish(&report)).await;
        report.notification = Some(notification);
        if let Some((s3, bucket)) = &self.siem {
            report.siem = Some(Box::pin(deliver_to_siem(s3, bucket, &report)).await);
        }
        tracing::info!(outcome = %report.outcome, steps = report.steps.len(), "finished");
        // A report the team did not get is worth a retry too: the steps are
        // idempotent, so the retry only publishes again.
        if transient || publish_transient {
            let what = if transient { "transient AWS failure" } else { "the report could not be published" };
            let why = format!("{what}, outcome {} so far; the retry repeats only what did not hold", report.outcome);
            return Err(HandlerError::retryable_with(&why, report));
        }
        Ok(report)
    }

    /// Runs the plan's playbook with its changes gated on GuardDuty's
    /// confirmation of the finding (asked at once, alongside the playbook's
    /// first reads), and reports the confirmation as the first step.
    async fn execute(
        &self,
        plan: &Plan,
        event: &FindingEvent,
        deadline: Option<Instant>,
        settings: &Settings,
    ) -> Execution {
        let gate = self.gate(event).await;
        // Boxed: a playbook's future is large, and callers poll many at once.
        let playbook = Box::pin(self.run_playbook(plan, event, deadline, gate.clone(), settings));
        let (mut execution, verdict) = futures::join!(playbook, gate);
        if !self.settings.verify_findings {
            return execution;
        }
        let mut log = StepLog::default();
        match verdict {
            Ok(held) => log.push("verify-finding", &event.finding.id, Ok(held)),
            Err(closed) => {
                if let Closed::Refused(refusal) = &closed {
                    execution.possibly_forged = refusal.possibly_forged();
                }
                log.push("verify-finding", &event.finding.id, Err(closed.failure()));
            }
        }
        log.records.append(&mut execution.log.records);
        log.transient |= execution.log.transient;
        execution.log = log;
        execution
    }

    /// Writes the response's evidence record, as one more step, when
    /// something was attempted on a confirmed finding: not for dry runs,
    /// skips, or events GuardDuty does not have.
    async fn keep_evidence(&self, execution: &mut Execution, event: &FindingEvent, payload: &[u8]) {
        let Some(store) = &self.evidence else { return };
        let attempted = execution.log.records.iter().any(|r| {
            r.action != "verify-finding"
                && matches!(r.status, StepStatus::Done | StepStatus::Failed | StepStatus::AlreadyDone)
        });
        if self.settings.policy.dry_run || execution.skipped.is_some() || execution.possibly_forged || !attempted {
            return;
        }
        let confirmed = !self.settings.verify_findings
            || execution.log.records.iter().any(|r| r.action == "verify-finding" && r.status.held());
        if !confirmed {
            return;
        }
        let finding = &event.finding;
        let text = String::from_utf8_lossy(payload).into_owned();
        let raw = match serde_json::value::RawValue::from_string(text) {
            Ok(raw) => raw,
            Err(e) => {
                execution.log.push("write-evidence-record", &store.bucket, Err(AwsFailure::rejected(e.to_string())));
                return;
            }
        };
        let record = crate::evidence::EvidenceRecord {
            finding_id: &finding.id,
            finding_type: finding.finding_type.as_str(),
            function: P::FUNCTION.name(),
            account: finding.account_id.as_str(),
            region: &finding.region,
            written_at: now_rfc3339(),
            state: &execution.state,
            steps: &execution.log.records,
            notes: &execution.notes,
            event: &raw,
        };
        let written = crate::steps::timed(store.put(&record)).await;
        let target = format!("s3://{}/{}", store.bucket, crate::evidence::record_key(&finding.id, P::FUNCTION.name()));
        execution.log.push("write-evidence-record", &target, written);
    }

    /// The gate for this event: GuardDuty asked about the finding in the
    /// administrator account (this one), in the finding's region.
    async fn gate(&self, event: &FindingEvent) -> Gate {
        if !self.settings.verify_findings {
            return open_gate();
        }
        let finding = &event.finding;
        let claimed = responder_core::verify::FindingFacts::of(finding);
        let act_on_archived = self.settings.policy.act_on_archived;
        let client = match self.home_in(&finding.region).await {
            Ok(home) => home.guardduty.clone(),
            Err(failure) => return closed_gate(Closed::Unverified(failure)),
        };
        gate(client, self.detectors.clone(), finding.region.clone(), claimed, act_on_archived)
    }

    /// The clients of the function's own (administrator) account in
    /// `region`: where GuardDuty and Security Hub hold every member's
    /// findings.
    async fn home_in(&self, region: &str) -> Result<Arc<Cloud<P::Clients>>, AwsFailure> {
        let clouds = &self.known().await?.clouds;
        let home = clouds.home();
        match home.account.as_ref() {
            Some(account) => clouds.for_scope(account, region).await,
            None => Ok(Arc::new(home.clone())),
        }
    }

    /// An attack sequence's plans, one principal after another, in one
    /// execution: every part's steps, notes and skips.
    async fn run_parts(
        &self,
        parts: &[Plan],
        event: &FindingEvent,
        deadline: Option<Instant>,
        gate: Gate,
        settings: &Settings,
    ) -> Execution {
        let mut all = Execution::default();
        for part in parts {
            // Boxed: the playbook future holds this one.
            let mut run = Box::pin(self.run_playbook(part, event, deadline, gate.clone(), settings)).await;
            all.log.records.append(&mut run.log.records);
            all.log.transient |= run.log.transient;
            all.notes.append(&mut run.notes);
            if let Some(reason) = run.skipped {
                all.notes.push(format!("{}: not contained: {reason}", part.resource()));
            }
        }
        if all.log.records.is_empty() {
            all.skipped = Some(format!("no principal of the attack sequence was contained: {}", all.notes.join("; ")));
        }
        all
    }

    async fn run_playbook(
        &self,
        plan: &Plan,
        event: &FindingEvent,
        deadline: Option<Instant>,
        gate: Gate,
        settings: &Settings,
    ) -> Execution {
        let scope = plan.scope();
        let clouds = match self.known().await {
            Ok(known) => &known.clouds,
            Err(failure) => {
                let mut run = Execution::default();
                run.log.push("learn-own-identity", &format!("{}/{}", scope.account, scope.region), Err(failure));
                return run;
            }
        };
        let cloud = match clouds.for_scope(&scope.account, &scope.region).await {
            Ok(cloud) => cloud,
            Err(failure) => {
                let mut run = Execution::default();
                let action = if clouds.is_member(&scope.account) { "assume-member-role" } else { "connect" };
                run.log.push(action, &format!("{}/{}", scope.account, scope.region), Err(failure));
                return run;
            }
        };
        match plan {
            Plan::Sequence { parts, left_out, .. } => {
                let mut run = Box::pin(self.run_parts(parts, event, deadline, gate, settings)).await;
                run.notes.extend(
                    left_out.iter().map(|why| format!("an actor of the attack sequence was left alone: {why}")),
                );
                run
            }
            plan => {
                let home = match clouds.home().account.clone() {
                    Some(account) if account != scope.account => {
                        match clouds.for_scope(&account, &scope.region).await {
                            Ok(home) => home,
                            Err(failure) => {
                                let mut run = Execution::default();
                                run.log.push("connect", &format!("{account}/{}", scope.region), Err(failure));
                                return run;
                            }
                        }
                    }
                    _ => cloud.clone(),
                };
                let job = Job { event, home, settings, deadline, gate };
                self.playbook.run(&cloud, plan, job).await
            }
        }
    }

    /// Notes the report on the finding's Security Hub copy, from the
    /// administrator account in the finding's region.
    async fn write_back(&self, finding: &responder_core::Finding, report: &Report) -> Notification {
        let client = match self.home_in(&finding.region).await {
            Ok(home) => home.securityhub.clone(),
            Err(failure) => return Notification { status: "failed".into(), detail: failure.to_string() },
        };
        let record = report
            .steps
            .iter()
            .find(|s| s.action == "write-evidence-record" && s.status.held())
            .map(|s| s.target.clone());
        let update = crate::securityhub::Update::of_report(report, record.as_deref());
        crate::securityhub::write_back(&client, finding, &update).await
    }

    /// Publishes to the topic; says whether a failure could pass on retry.
    async fn publish(&self, report: &Report) -> (Notification, bool) {
        match &self.settings.notify_topic_arn {
            Some(topic) => crate::notify::publish(&self.probe.sns, topic, report, self.settings.notify_format).await,
            None => (Notification { status: "disabled".into(), detail: "NOTIFY_TOPIC_ARN is not set".into() }, false),
        }
    }

    /// notify-finding: the playbook's look-up (the CloudTrail activity
    /// around the resource), then the alert. A failed look-up degrades to an
    /// alert without it, saying so; a failed publish is the function failing
    /// (retryable when transient).
    async fn alert(
        &self,
        mut report: Report,
        event: &FindingEvent,
        plan: &Plan,
        deadline: Option<Instant>,
        settings: &Settings,
    ) -> Result<Report, HandlerError> {
        report.resource = responder_core::target::alert_resource(&event.finding);
        let run = self.run_playbook(plan, event, deadline, open_gate(), settings).await;
        let mut log = run.log;
        // The look-up is enrichment: its failure is never retried.
        log.transient = false;
        report.activity = run.activity;
        report.notes = run.notes;
        let commands = responder_core::playbooks::closing_commands(&event.finding);
        if !commands.is_empty() {
            report.notes.push(format!("Close it with:\n    {}", commands.join("\n    ")));
        }
        let topic = self.settings.notify_topic_arn.clone().unwrap_or_default();
        report.steps = log.records.clone();
        report.outcome = Outcome::of_steps(&report.steps, false);
        let (notification, retry) = self.publish(&report).await;
        let published = if notification.status == "published" {
            Ok(crate::steps::Held::done(notification.detail.clone()))
        } else {
            Err(crate::failure::AwsFailure::rejected(notification.detail.clone()))
        };
        log.push("publish-alert", &topic, published);
        report.steps = log.records;
        report.outcome = Outcome::of_steps(&report.steps, false);
        report.notification = Some(notification);
        if retry {
            return Err(HandlerError::retryable_with("the alert could not be published; retrying", report));
        }
        Ok(report)
    }
}

/// Writes the report as one OCSF document to the SIEM bucket.
async fn deliver_to_siem(s3: &aws_sdk_s3::Client, bucket: &str, report: &Report) -> Notification {
    let now = chrono::Utc::now();
    let document = responder_core::ocsf::document(report, now.timestamp_millis());
    let key = crate::evidence::siem_key(report, now);
    match crate::evidence::put_json(s3, bucket, &key, &document).await {
        Ok(()) => Notification { status: "written".into(), detail: format!("s3://{bucket}/{key}") },
        Err(failure) => Notification { status: "failed".into(), detail: failure.to_string() },
    }
}

/// One structured log line per step, as CloudWatch Logs Insights queries them.
fn log_steps(report: &Report) {
    for step in &report.steps {
        tracing::info!(
            finding_id = %report.finding_id,
            function = %report.function,
            step = %step.action,
            target = %step.target,
            status = %step.status,
            duration_ms = step.duration_ms,
            error_code = step.error_code.as_deref(),
            detail = %step.detail,
            "step"
        );
    }
}

/// Skips a person should hear about from the remediation function itself;
/// routine ones (another function's finding, below threshold, alert-only
/// types) are left to the alerting function.
fn worth_publishing(skip: &Skip) -> bool {
    !matches!(
        skip,
        Skip::NotForThisFunction(_)
            | Skip::BelowThreshold { .. }
            | Skip::BelowAlertThreshold { .. }
            | Skip::TypeNotHandled(_)
    )
}

fn base_report(function: Function, event: &FindingEvent) -> Report {
    let f = &event.finding;
    Report {
        account: Some(f.account_id.to_string()),
        region: Some(f.region.clone()),
        severity: Some(f.severity.value()),
        title: f.title.clone(),
        ..Report::new(function.name(), &f.id, f.finding_type.to_string(), Outcome::Skipped)
    }
}

/// Turns an execution into the report's outcome; says whether a retry can help.
pub fn finish(mut report: Report, execution: Execution, dry_run: bool) -> (Report, bool) {
    let transient = execution.log.transient;
    report.steps = execution.log.records;
    if let Some(reason) = execution.skipped {
        report.notes = execution.notes;
        report.outcome = Outcome::Skipped;
        report.reason = Some(reason);
        return (report, false);
    }
    report.outcome = Outcome::of_steps(&report.steps, dry_run);
    if report.outcome == Outcome::Failed {
        report.reason =
            report.steps.iter().find(|s| !s.status.held()).map(|s| format!("{} {}: {}", s.action, s.target, s.detail));
    }
    report.notes = execution.notes;
    if execution.possibly_forged {
        // Refused as a whole, whatever already held for other reasons (a
        // bucket blocked by an earlier, genuine finding).
        report.outcome = Outcome::Failed;
        if report.reason.is_none() {
            report.reason = report.steps.iter().find(|s| s.action == "verify-finding").map(|s| s.detail.clone());
        }
        // A made-up finding is an incident of its own: reported as High
        // whatever severity the event claimed.
        report.severity = Some(report.severity.unwrap_or(0.0).max(7.0));
        report.notes.push(
            "GuardDuty does not have this finding as the event tells it: whoever invoked this function may be trying to turn it against your resources; review who invoked it (CloudTrail Invoke events) and the event's source".to_owned(),
        );
    }
    (report, transient)
}

pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
