//! The loop with the security team: Security Hub write-back, custom
//! actions, approval mode, `responder respond`, `suppress`, and a release
//! as a false positive.

use responder_aws::Answer;
use responder_core::{Function, Outcome, StepStatus};
use responder_e2e::seed::{self, InstanceOptions, Network};
use responder_e2e::{custom_action_on, fixture_for_instance, forged, root, settings};

use crate::{cloud, responder};

const CRYPTO: &str = "ec2-cryptocurrency-bitcointool-high.json";
/// Severity 5: below the remediation threshold, alerted only.
const SPAMBOT: &str = "ec2-backdoor-spambot-medium.json";
const CONTAIN: &str = "securityhub-custom-action-contain-ec2-spambot-medium.json";
const RELEASE: &str = "securityhub-custom-action-release-ec2-spambot-medium.json";

fn finding_id(event: &[u8]) -> String {
    let event: serde_json::Value = serde_json::from_slice(event).unwrap();
    event["detail"]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_contained_finding_is_noted_in_security_hub_and_a_failed_note_hides_nothing() {
    let config = cloud().await;
    let net = Network::create(&config).await;
    let inst = net.instance(&config, InstanceOptions::default()).await;
    let event = fixture_for_instance(CRYPTO, &inst.id);
    let arn = seed::security_hub_copy(&config, &event).await;

    let siem = seed::versioned_bucket(&config).await;
    let r = responder(&config, &[("SECURITY_HUB_WRITE_BACK", "true"), ("SIEM_BUCKET", &siem)]).await;
    let report = r.handle(Function::QuarantineInstance, &event, None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Contained, "{report:#?}");
    let written = report.security_hub.clone().expect("a write-back status");
    assert_eq!(written.status, "updated", "{written:?}");

    // The same report, as one OCSF document in the SIEM bucket.
    let delivered = report.siem.clone().expect("a SIEM delivery status");
    assert_eq!(delivered.status, "written", "{delivered:?}");
    let key = delivered.detail.strip_prefix(&format!("s3://{siem}/")).expect("an S3 URI").to_owned();
    assert!(key.starts_with("ocsf/year="), "{key}");
    let object = seed::s3(&config).get_object().bucket(&siem).key(&key).send().await.unwrap();
    let document: serde_json::Value =
        serde_json::from_slice(&object.body.collect().await.unwrap().into_bytes()).unwrap();
    assert_eq!((document["class_uid"].as_u64(), document["type_uid"].as_u64()), (Some(7004), Some(700401)));
    assert_eq!(document["status_id"], 1);
    assert_eq!(document["metadata"]["correlation_uid"], finding_id(&event));
    assert_eq!(document["unmapped"]["guardduty_responder_report"]["outcome"], "contained");

    let (note, workflow, fields) = seed::security_hub_state(&config, &arn).await;
    let note = note.expect("a note");
    assert!(note.starts_with("guardduty-responder quarantine-instance: contained"), "{note}");
    assert!(note.contains("isolate-eni (2)"), "both ENIs: {note}");
    assert!(note.chars().count() <= 512);
    assert_eq!(workflow.as_deref(), Some("NOTIFIED"));
    assert_eq!(fields.get("guardduty-responder:quarantine-instance:outcome").map(String::as_str), Some("contained"));

    // The alert never writes: its note would replace the remediation's.
    let alert = r.handle(Function::NotifyFinding, &event, None).await.unwrap();
    assert_eq!(alert.security_hub, None);

    // Security Hub without the finding: the write-back fails, the
    // containment is reported as it is.
    let other = net.instance(&config, InstanceOptions::default()).await;
    let report = r.handle(Function::QuarantineInstance, &fixture_for_instance(CRYPTO, &other.id), None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Contained, "{report:#?}");
    let failed = report.security_hub.expect("a write-back status");
    assert_eq!(failed.status, "failed");
    assert!(failed.detail.contains("FindingNotFound"), "{failed:?}");
}

#[tokio::test]
async fn a_custom_action_contains_a_medium_finding_the_rules_leave_alone() {
    let config = cloud().await;
    let net = Network::create(&config).await;
    let inst = net.instance(&config, InstanceOptions::default()).await;
    let before = seed::eni_groups(&config, &inst.primary_eni).await;
    let event = fixture_for_instance(SPAMBOT, &inst.id);
    let r = responder(&config, &[]).await;

    let plain = r.handle(Function::QuarantineInstance, &event, None).await.unwrap();
    assert_eq!(plain.outcome, Outcome::Skipped, "{plain:#?}");
    assert_eq!(seed::eni_groups(&config, &inst.primary_eni).await, before);

    let action = custom_action_on(CONTAIN, &event);
    let Answer::One(report) = r.answer(Function::QuarantineInstance, &action).await.unwrap() else {
        panic!("one finding, one report")
    };
    assert_eq!(report.outcome, Outcome::Contained, "{report:#?}");
    assert_eq!(report.finding_id, finding_id(&event));
    assert!(report.requested_by.as_deref().unwrap_or_default().contains("custom action Contain"), "{report:#?}");
    assert_eq!((report.steps[0].action.as_str(), report.steps[0].status), ("verify-finding", StepStatus::Done));
    let isolation = seed::responder_groups(&config, &net.vpc, "isolation").await;
    let iso = isolation[0].group_id().unwrap().to_owned();
    assert_eq!(seed::eni_groups(&config, &inst.primary_eni).await, vec![iso]);

    // The other functions reached by the same rule: not theirs, and silent.
    let other = r.handle(Function::DisableIamUser, &action, None).await.unwrap();
    assert_eq!(other.outcome, Outcome::Skipped);
    assert_eq!(other.notification, None, "{other:#?}");

    // A type no playbook contains: the person hears why nothing was done.
    let probe = fixture_for_instance("ec2-recon-port-probe-medium.json", &inst.id);
    let (topic, queue) = seed::topic_with_queue(&config).await;
    let told = responder(&config, &[("NOTIFY_TOPIC_ARN", &topic)]).await;
    let report = told.handle(Function::QuarantineInstance, &custom_action_on(CONTAIN, &probe), None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Skipped, "{report:#?}");
    assert_eq!(report.notification.as_ref().map(|n| n.status.as_str()), Some("published"), "{report:#?}");
    assert_eq!(seed::notifications(&config, &queue, 1, 10).await.len(), 1);
    let routine = told.handle(Function::QuarantineInstance, &probe, None).await.unwrap();
    assert_eq!(routine.notification, None, "the rule's own delivery stays quiet: {routine:#?}");
}

#[tokio::test]
async fn a_custom_action_on_a_finding_guardduty_does_not_have_changes_nothing() {
    let config = cloud().await;
    let net = Network::create(&config).await;
    let inst = net.instance(&config, InstanceOptions::default()).await;
    let before = seed::eni_groups(&config, &inst.primary_eni).await;
    let r = responder(&config, &[]).await;
    let named = responder_e2e::fixture(SPAMBOT)["detail"]["resource"]["instanceDetails"]["instanceId"].clone();
    let unknown = forged(SPAMBOT, &[(named.as_str().unwrap(), &inst.id)]);
    let action = custom_action_on(CONTAIN, &unknown);
    let report = r.handle(Function::QuarantineInstance, &action, None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Failed, "{report:#?}");
    assert_eq!((report.steps[0].action.as_str(), report.steps[0].status), ("fetch-finding", StepStatus::Failed));
    assert!(report.steps[0].detail.contains("GuardDuty has no finding"), "{report:#?}");
    assert_eq!(report.steps.len(), 1);
    assert_eq!(seed::eni_groups(&config, &inst.primary_eni).await, before);

    for name in [
        "securityhub-custom-action-not-guardduty.json",
        "securityhub-custom-action-no-findings.json",
        "securityhub-custom-action-bad-id.json",
        "securityhub-imported-findings.json",
    ] {
        let bytes = std::fs::read(root().join("events/invalid").join(name)).unwrap();
        let err = r.handle(Function::QuarantineInstance, &bytes, None).await.unwrap_err();
        assert_eq!(err.error_type, "InvalidEvent", "{name}: {err}");
    }
}

#[tokio::test]
async fn approval_mode_proposes_without_changing_anything_until_a_person_approves() {
    let config = cloud().await;
    let net = Network::create(&config).await;
    let inst = net.instance(&config, InstanceOptions::default()).await;
    let before = seed::eni_groups(&config, &inst.primary_eni).await;
    let event = fixture_for_instance(CRYPTO, &inst.id);
    let r = responder(&config, &[("APPROVAL_FINDING_TYPES", "CryptoCurrency:EC2/*")]).await;

    let proposal = r.handle(Function::QuarantineInstance, &event, None).await.unwrap();
    assert_eq!(proposal.outcome, Outcome::Skipped, "{proposal:#?}");
    let reason = proposal.reason.clone().unwrap_or_default();
    assert!(reason.starts_with("approval required (finding type CryptoCurrency:EC2/BitcoinTool.B!DNS"), "{reason}");
    assert!(reason.contains(&format!("responder respond --finding-id {}", finding_id(&event))), "{reason}");
    assert!(
        proposal.steps.iter().any(|s| s.action == "isolate-eni" && s.status == StepStatus::Planned),
        "the plan is shown: {proposal:#?}"
    );
    assert!(proposal.steps.iter().all(|s| s.status != StepStatus::Done || responder_core::report::is_read(&s.action)));
    assert_eq!(seed::eni_groups(&config, &inst.primary_eni).await, before);
    assert!(!seed::termination_protection(&config, &inst.id).await);
    assert!(!seed::instance_tags(&config, &inst.id).await.keys().any(|k| k.starts_with("guardduty-responder:")));

    let approved = r.handle(Function::QuarantineInstance, &custom_action_on(CONTAIN, &event), None).await.unwrap();
    assert_eq!(approved.outcome, Outcome::Contained, "{approved:#?}");
    assert_ne!(seed::eni_groups(&config, &inst.primary_eni).await, before);
}

#[tokio::test]
async fn a_release_request_is_confirmed_and_handed_to_the_release_role() {
    let config = cloud().await;
    let net = Network::create(&config).await;
    let inst = net.instance(&config, InstanceOptions::default()).await;
    let event = fixture_for_instance(CRYPTO, &inst.id);
    let r = responder(&config, &[]).await;
    assert_eq!(r.handle(Function::QuarantineInstance, &event, None).await.unwrap().outcome, Outcome::Contained);
    let contained = seed::eni_groups(&config, &inst.primary_eni).await;

    let report = r.handle(Function::QuarantineInstance, &custom_action_on(RELEASE, &event), None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Skipped, "{report:#?}");
    let reason = report.reason.unwrap_or_default();
    assert!(reason.contains(&format!("responder release --finding-id {}", finding_id(&event))), "{reason}");
    assert!(report.notification.is_some(), "the release role's holders are told");
    assert_eq!(seed::eni_groups(&config, &inst.primary_eni).await, contained, "the function released nothing");
}

#[tokio::test]
async fn respond_runs_the_playbook_from_a_workstation_and_a_false_positive_release_archives_it() {
    let config = cloud().await;
    let net = Network::create(&config).await;
    let inst = net.instance(&config, InstanceOptions::default()).await;
    let before = seed::eni_groups(&config, &inst.primary_eni).await;
    let event = fixture_for_instance(SPAMBOT, &inst.id);
    let arn = seed::security_hub_copy(&config, &event).await;
    let id = finding_id(&event);

    // A dry run first: the plan, nothing changed.
    let dry = responder_cli::respond(&config, &settings(&[("DRY_RUN", "true")]), &id).await.unwrap();
    assert_eq!(dry.reports.len(), 1, "{:#?}", dry.reports);
    assert_eq!(dry.reports[0].outcome, Outcome::DryRun);
    assert_eq!(seed::eni_groups(&config, &inst.primary_eni).await, before);

    let responded = responder_cli::respond(&config, &settings(&[]), &id).await.unwrap();
    let [report] = responded.reports.as_slice() else { panic!("{:#?}", responded.reports) };
    assert_eq!((report.function.as_str(), report.outcome), ("quarantine-instance", Outcome::Contained), "{report:#?}");
    assert!(report.requested_by.as_deref().unwrap_or_default().contains("responder respond"), "{report:#?}");
    assert_ne!(seed::eni_groups(&config, &inst.primary_eni).await, before);

    let released = responder_cli::release_finding(&config, &settings(&[]), &id, false, true).await.unwrap();
    let names: Vec<&str> = released.runs.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, vec![inst.id.as_str(), &format!("finding {id} (false positive)")], "{released:#?}");
    for (name, run) in &released.runs {
        assert!(run.log.all_held() && run.skipped.is_none(), "{name}: {run:#?}");
    }
    assert_eq!(seed::eni_groups(&config, &inst.primary_eni).await, before);
    assert_eq!(seed::guardduty_finding(&config, &id).await, (true, Some("NOT_USEFUL".to_owned())));
    let (note, workflow, _) = seed::security_hub_state(&config, &arn).await;
    assert_eq!(workflow.as_deref(), Some("SUPPRESSED"));
    assert!(note.unwrap_or_default().contains("false positive"));

    // An unknown finding is an error that names it, and changes nothing.
    let err = responder_cli::respond(&config, &settings(&[]), "0000000000000000000000000000dead").await.unwrap_err();
    assert!(err.contains("GuardDuty has no finding 0000000000000000000000000000dead"), "{err}");
}

#[tokio::test]
async fn suppress_proposes_a_filter_and_creates_it_only_when_applied() {
    let config = cloud().await;
    let net = Network::create(&config).await;
    let inst = net.instance(&config, InstanceOptions::default()).await;
    let event = fixture_for_instance(SPAMBOT, &inst.id);
    let id = finding_id(&event);
    let gd = aws_sdk_guardduty::Client::new(&config);
    let detector = gd.list_detectors().send().await.unwrap().detector_ids()[0].clone();

    let (proposal, created) = responder_cli::suppress(&config, &settings(&[]), &id, false).await.unwrap();
    assert_eq!(created, None);
    assert!(gd.get_filter().detector_id(&detector).filter_name(&proposal.name).send().await.is_err(), "not created");

    let (applied, created) = responder_cli::suppress(&config, &settings(&[]), &id, true).await.unwrap();
    assert_eq!(created.as_deref(), Some(applied.name.as_str()));
    let filter = gd.get_filter().detector_id(&detector).filter_name(&applied.name).send().await.unwrap();
    assert_eq!(filter.action().map(|a| a.as_str()), Some("ARCHIVE"));
    let criteria = filter.finding_criteria().and_then(|c| c.criterion()).cloned().unwrap_or_default();
    let instance = criteria.get("resource.instanceDetails.instanceId").map(|c| c.equals().to_vec());
    assert_eq!(instance, Some(vec![inst.id.clone()]), "{criteria:?}");
    assert_eq!(criteria.get("type").map(|c| c.equals().to_vec()), Some(vec!["Backdoor:EC2/Spambot".to_owned()]));
}
