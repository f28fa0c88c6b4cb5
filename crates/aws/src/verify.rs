//! The gate every change waits behind: the event's finding, confirmed with
//! GuardDuty.
//!
//! `GetFindings` (on the administrator account's detector in the finding's
//! region) is started with a playbook's first wave of reads, so it adds no
//! serial round trip; the playbook awaits the [`Gate`] before its first
//! change. A finding GuardDuty does not have, or that differs from the
//! event, or that was archived since, opens no gate; neither does a
//! GuardDuty that cannot be asked (unknown means no).
//!
//! IAM actions: guardduty:GetFindings, guardduty:ListDetectors (only when
//! `GUARDDUTY_DETECTOR_ID` is not set).

use std::collections::HashMap;
use std::sync::Arc;

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use responder_core::verify::{FindingFacts, Refusal, confirm};
use tokio::sync::Mutex;

use crate::failure::{AwsFailure, FailureKind};
use crate::steps::Held;

/// Why the gate stays closed.
#[derive(Debug, Clone)]
pub enum Closed {
    /// GuardDuty answered, and the event is not what it has.
    Refused(Refusal),
    /// GuardDuty could not be asked.
    Unverified(AwsFailure),
}

impl Closed {
    /// The failure the report's `verify-finding` step carries.
    pub fn failure(&self) -> AwsFailure {
        match self {
            Closed::Refused(r) => {
                AwsFailure { kind: FailureKind::Rejected, code: Some(r.code().to_owned()), message: r.to_string() }
            }
            Closed::Unverified(f) => AwsFailure {
                message: format!(
                    "the finding could not be confirmed with GuardDuty, so nothing was changed: {}",
                    f.message
                ),
                ..f.clone()
            },
        }
    }
}

/// What the changes of one run wait for.
pub type Gate = Shared<BoxFuture<'static, Result<Held, Closed>>>;

/// A gate that is open: `VERIFY_FINDINGS` is off.
pub fn open_gate() -> Gate {
    futures::future::ready(Ok(Held::skipped("VERIFY_FINDINGS is off"))).boxed().shared()
}

/// A gate that stays closed: GuardDuty could not even be reached.
pub fn closed_gate(why: Closed) -> Gate {
    futures::future::ready(Err(why)).boxed().shared()
}

/// The administrator account's detectors, found once per region.
#[derive(Debug, Clone, Default)]
pub struct Detectors {
    configured: Option<String>,
    found: Arc<Mutex<HashMap<String, String>>>,
}

impl Detectors {
    pub fn new(configured: Option<String>) -> Self {
        Detectors { configured, found: Arc::default() }
    }

    /// The detector's id: the configured one (`GUARDDUTY_DETECTOR_ID`), or
    /// the one `ListDetectors` names, asked with the first finding of the
    /// region and kept. A failure is asked again with the next finding.
    pub async fn of(&self, client: &aws_sdk_guardduty::Client, region: &str) -> Result<String, AwsFailure> {
        if let Some(id) = &self.configured {
            return Ok(id.clone());
        }
        if let Some(id) = self.found.lock().await.get(region) {
            return Ok(id.clone());
        }
        let out = client.list_detectors().send().await?;
        let id = out.detector_ids().first().cloned().ok_or_else(|| AwsFailure {
            kind: FailureKind::NotFound,
            code: Some("NoDetector".into()),
            message: format!("GuardDuty has no detector in {region} in this account, so no finding can be confirmed"),
        })?;
        self.found.lock().await.insert(region.to_owned(), id.clone());
        Ok(id)
    }
}

/// Starts confirming `claimed` with GuardDuty; the returned gate resolves
/// when GuardDuty has answered.
pub fn gate(
    client: aws_sdk_guardduty::Client,
    detectors: Detectors,
    region: String,
    claimed: FindingFacts,
    act_on_archived: bool,
) -> Gate {
    async move {
        let detector = detectors.of(&client, &region).await.map_err(Closed::Unverified)?;
        let out = client
            .get_findings()
            .detector_id(&detector)
            .finding_ids(&claimed.id)
            .send()
            .await
            .map_err(|e| Closed::Unverified(AwsFailure::from(e)))?;
        let live = out.findings().iter().find(|f| f.id() == Some(claimed.id.as_str())).map(facts_of);
        confirm(&claimed, live.as_ref(), act_on_archived).map_err(Closed::Refused)?;
        let live = live.unwrap_or_default();
        Ok(Held::done(format!(
            "GuardDuty has finding {} ({}, {}{})",
            live.id,
            live.finding_type,
            live.resource_type,
            if live.archived { ", archived" } else { "" }
        )))
    }
    .boxed()
    .shared()
}

/// The facts of GuardDuty's own finding.
pub fn facts_of(f: &aws_sdk_guardduty::types::Finding) -> FindingFacts {
    let resource = f.resource();
    let key = resource.and_then(|r| r.access_key_details());
    let api = f.service().and_then(|s| s.action()).and_then(|a| a.aws_api_call_action());
    FindingFacts {
        id: f.id().unwrap_or_default().to_owned(),
        finding_type: f.r#type().unwrap_or_default().to_owned(),
        account_id: f.account_id().unwrap_or_default().to_owned(),
        region: f.region().unwrap_or_default().to_owned(),
        resource_type: resource.and_then(|r| r.resource_type()).unwrap_or_default().to_owned(),
        instance_id: resource.and_then(|r| r.instance_details()).and_then(|d| d.instance_id()).map(str::to_owned),
        user_name: key.and_then(|k| k.user_name()).map(str::to_owned),
        user_type: key.and_then(|k| k.user_type()).map(str::to_owned),
        access_key_id: key.and_then(|k| k.access_key_id()).map(str::to_owned),
        principal_id: key.and_then(|k| k.principal_id()).map(str::to_owned),
        trail: api.and_then(|a| a.affected_resources()).and_then(|m| m.get("AWS::CloudTrail::Trail")).cloned(),
        actors: {
            let sequence = f.service().and_then(|s| s.detection()).and_then(|d| d.sequence());
            let mut actors: Vec<String> = sequence
                .map(|s| s.actors())
                .unwrap_or_default()
                .iter()
                .filter_map(|a| a.user())
                .map(|u| responder_core::verify::actor(u.r#type(), u.name(), u.credential_uid()))
                .collect();
            actors.sort();
            actors
        },
        resources: {
            use responder_core::verify::resource as named;
            let r = resource;
            let mut all: Vec<String> = r
                .map(|r| r.s3_bucket_details())
                .unwrap_or_default()
                .iter()
                .filter_map(|b| b.name())
                .map(|n| named("bucket", n))
                .collect();
            all.extend(
                r.and_then(|r| r.lambda_details()).and_then(|d| d.function_name()).map(|n| named("function", n)),
            );
            if let Some(d) = r.and_then(|r| r.rds_db_instance_details()) {
                all.extend(d.db_instance_identifier().map(|n| named("database", n)));
                all.extend(d.db_cluster_identifier().filter(|c| !c.is_empty()).map(|n| named("cluster", n)));
            }
            all.extend(
                r.and_then(|r| r.ebs_snapshot_details()).and_then(|d| d.snapshot_arn()).map(|a| named("snapshot", a)),
            );
            all.extend(r.and_then(|r| r.ec2_image_details()).and_then(|d| d.image_arn()).map(|a| named("image", a)));
            all.extend(
                r.and_then(|r| r.recovery_point_details())
                    .and_then(|d| d.recovery_point_arn())
                    .map(|a| named("recovery-point", a)),
            );
            for bucket in r.map(|r| r.s3_bucket_details()).unwrap_or_default() {
                let name = bucket.name().unwrap_or_default();
                all.extend(bucket.s3_object_details().iter().map(|o| {
                    responder_core::verify::object(
                        name,
                        o.key().unwrap_or_default(),
                        o.version_id().unwrap_or_default(),
                    )
                }));
            }
            let sequence = f.service().and_then(|s| s.detection()).and_then(|d| d.sequence());
            all.extend(sequence.map(|s| s.resources()).unwrap_or_default().iter().map(|v| {
                named(v.resource_type().map(|t| t.as_str()).unwrap_or_default(), v.uid().unwrap_or_default())
            }));
            all.sort();
            all
        },
        archived: f.service().and_then(|s| s.archived()).unwrap_or(false),
    }
}

/// Keeps the body of the response it sees, as the service sent it.
#[derive(Debug, Clone, Default)]
struct KeepBody(Arc<std::sync::Mutex<Option<Vec<u8>>>>);

impl aws_smithy_runtime_api::client::interceptors::Intercept for KeepBody {
    fn name(&self) -> &'static str {
        "KeepBody"
    }

    fn read_after_deserialization(
        &self,
        context: &aws_smithy_runtime_api::client::interceptors::context::AfterDeserializationInterceptorContextRef<'_>,
        _: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        _: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let body = context.response().body().bytes().map(<[u8]>::to_vec);
        if let Ok(mut kept) = self.0.lock() {
            *kept = body;
        }
        Ok(())
    }
}

/// GuardDuty's own finding `id` in `region`, as the JSON `GetFindings`
/// answered (the shape EventBridge delivers as `detail`); `None` when
/// GuardDuty does not have it. Asked on the administrator account's
/// detector, which holds every member's findings.
pub async fn fetch_finding(
    client: &aws_sdk_guardduty::Client,
    detectors: &Detectors,
    region: &str,
    id: &str,
) -> Result<Option<serde_json::Value>, AwsFailure> {
    let detector = detectors.of(client, region).await?;
    let kept = KeepBody::default();
    client.get_findings().detector_id(&detector).finding_ids(id).customize().interceptor(kept.clone()).send().await?;
    let body = kept.0.lock().ok().and_then(|mut b| b.take()).unwrap_or_default();
    let answer: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| AwsFailure::rejected(format!("GuardDuty's GetFindings answer is not JSON: {e}")))?;
    let found = answer
        .get("findings")
        .and_then(serde_json::Value::as_array)
        .and_then(|all| all.iter().find(|f| f.get("id").and_then(serde_json::Value::as_str) == Some(id)).cloned());
    Ok(found)
}
