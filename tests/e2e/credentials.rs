//! revoke-role-sessions and disable-iam-user, end to end.

use chrono::Utc;
use responder_core::report::is_read;
use responder_core::revocation::{POLICY_NAME, cutoff_of};
use responder_core::{Function, Outcome, StepStatus};
use responder_e2e::seed::{self, InstanceOptions, Network};
use responder_e2e::{fixture_naming_principal, fixture_with};
use responder_iam::Cloud;
use responder_iam::credentials::{release_role, release_user};

use crate::{cloud, responder};

const USER_FINDING: &str = "iam-user-malicious-ip-caller.json";
const ROLE_FINDING: &str = "iam-role-malicious-ip-caller.json";

/// The fixture, naming the seeded user and its key whatever it named.
fn user_event(file: &str, user: &str, key: &str) -> Vec<u8> {
    fixture_naming_principal(file, user, Some(key))
}

/// The fixture, naming the seeded role whatever it named.
fn role_event(file: &str, role: &str) -> Vec<u8> {
    fixture_naming_principal(file, role, None)
}

#[tokio::test]
async fn a_user_is_disabled_and_a_second_delivery_changes_nothing() {
    let config = cloud().await;
    let (user, keys, _) = seed::iam_user(&config, 2, 0, true).await;
    let r = responder(&config, &[]).await;
    let event = user_event(USER_FINDING, &user, &keys[1]);

    let report = r.handle(Function::DisableIamUser, &event, None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Contained, "{report:#?}");
    let first_key = report.steps.iter().find(|s| s.action == "deactivate-access-key").unwrap();
    assert_eq!(first_key.target, keys[1], "the finding's key comes first");
    let states = seed::key_states(&config, &user).await;
    assert!(keys.iter().all(|k| !states[k]), "{states:?}");
    assert!(!seed::has_login_profile(&config, &user).await);
    let doc = seed::user_policy(&config, &user, POLICY_NAME).await.expect("deny policy");
    let cutoff = cutoff_of(&doc).expect("cutoff");
    assert!((Utc::now() - cutoff).num_seconds().abs() < 30, "cutoff {cutoff} is not now");

    let again = r.handle(Function::DisableIamUser, &event, None).await.unwrap();
    assert_eq!(again.outcome, Outcome::Contained);
    let changed: Vec<_> = again.steps.iter().filter(|s| s.status == StepStatus::Done && !is_read(&s.action)).collect();
    assert!(changed.is_empty(), "second delivery changed: {changed:#?}");
    assert_eq!(seed::user_policy(&config, &user, POLICY_NAME).await, Some(doc));

    // Release: exactly the keys the responder deactivated come back.
    let cloud = Cloud::new(&config);
    let run = release_user(&cloud, &user).await;
    assert!(run.log.all_held(), "{:#?}", run.log.records);
    assert!(run.notes.iter().any(|n| n.contains("console password")));
    let states = seed::key_states(&config, &user).await;
    assert!(keys.iter().all(|k| states[k]), "{states:?}");
    assert_eq!(seed::user_policy(&config, &user, POLICY_NAME).await, None);
}

#[tokio::test]
async fn release_reactivates_only_the_keys_the_responder_deactivated() {
    let config = cloud().await;
    let (user, active, inactive) = seed::iam_user(&config, 1, 1, false).await;
    let r = responder(&config, &[]).await;
    let report = r.handle(Function::DisableIamUser, &user_event(USER_FINDING, &user, &active[0]), None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Contained, "{report:#?}");
    let dormant = report.steps.iter().find(|s| s.target == inactive[0]).unwrap();
    assert_eq!(dormant.status, StepStatus::AlreadyDone);
    let run = release_user(&Cloud::new(&config), &user).await;
    assert!(run.log.all_held(), "{:#?}", run.log.records);
    let states = seed::key_states(&config, &user).await;
    assert!(states[&active[0]]);
    assert!(!states[&inactive[0]], "a key that was inactive before must stay inactive");
    assert!(run.notes.is_empty(), "no password was deleted: {:?}", run.notes);
}

#[tokio::test]
async fn finding_key_scope_leaves_other_keys_alone() {
    let config = cloud().await;
    let (user, keys, _) = seed::iam_user(&config, 2, 0, false).await;
    let r = responder(&config, &[("DISABLE_USER_KEYS", "finding-key")]).await;
    let report = r.handle(Function::DisableIamUser, &user_event(USER_FINDING, &user, &keys[0]), None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Contained, "{report:#?}");
    let states = seed::key_states(&config, &user).await;
    assert!(!states[&keys[0]]);
    assert!(states[&keys[1]]);
}

#[tokio::test]
async fn an_assumed_role_gets_its_older_sessions_revoked() {
    let config = cloud().await;
    let role = seed::iam_role(&config, "data-pipeline", "/").await;
    let r = responder(&config, &[]).await;
    let before = Utc::now();
    let report = r.handle(Function::RevokeRoleSessions, &role_event(ROLE_FINDING, &role), None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Contained, "{report:#?}");
    let doc = seed::role_policy(&config, &role, POLICY_NAME).await.expect("revocation policy");
    let cutoff = cutoff_of(&doc).expect("cutoff");
    assert!(cutoff >= before - chrono::Duration::seconds(1) && cutoff <= Utc::now() + chrono::Duration::seconds(1));
    // The finding's own time is far in the past; the cutoff is the call's time.
    assert!(cutoff.to_rfc3339().as_str() > "2026-11-20T09:14:03Z");

    let cloud = Cloud::new(&config);
    let run = release_role(&cloud, &role).await;
    assert!(run.log.all_held(), "{:#?}", run.log.records);
    assert_eq!(seed::role_policy(&config, &role, POLICY_NAME).await, None);
}

#[tokio::test]
async fn roles_and_identities_that_must_not_be_touched_are_not() {
    let config = cloud().await;
    let plain = seed::iam_role(&config, "data-pipeline", "/").await;
    let slr = seed::iam_role(&config, "custom-slr", "/aws-service-role/autoscaling.amazonaws.com/").await;
    let r = responder(&config, &[]).await;
    let protected = responder(&config, &[("PROTECTED_PRINCIPALS", &format!("BreakGlass, {plain}"))]).await;
    let dry = responder(&config, &[("DRY_RUN", "true")]).await;
    let cases = [
        (&r, fixture_with("iam-role-sso-reserved.json", &[]), "AWSReservedSSO_AdministratorAccess_0f1e2d3c4b5a6978"),
        (&r, role_event(ROLE_FINDING, &slr), slr.as_str()),
        (&protected, role_event(ROLE_FINDING, &plain), plain.as_str()),
        (&r, role_event("iam-federated-malicious-ip-caller.json", &plain), plain.as_str()),
        (&r, role_event("iam-root-credential-usage.json", &plain), plain.as_str()),
        (&dry, role_event(ROLE_FINDING, &plain), plain.as_str()),
    ];
    for (responder, event, role) in cases {
        let report = responder.handle(Function::RevokeRoleSessions, &event, None).await.unwrap();
        assert!(matches!(report.outcome, Outcome::Skipped | Outcome::DryRun), "{role}: {report:#?}");
        assert!(report.reason.is_some() || report.outcome == Outcome::DryRun);
    }
    for role in [&plain, &slr] {
        assert_eq!(seed::role_policy(&config, role, POLICY_NAME).await, None, "{role} was changed");
    }

    let (user, keys, _) = seed::iam_user(&config, 1, 0, true).await;
    let protected = responder(&config, &[("PROTECTED_PRINCIPALS", &user)]).await;
    for (responder, file) in [
        (&protected, USER_FINDING),
        (&dry, USER_FINDING),
        (&r, "iam-user-malicious-ip-caller-sample.json"),
        (&r, "iam-root-credential-usage.json"),
    ] {
        let event = user_event(file, &user, &keys[0]);
        let report = responder.handle(Function::DisableIamUser, &event, None).await.unwrap();
        assert!(matches!(report.outcome, Outcome::Skipped | Outcome::DryRun), "{file}: {report:#?}");
    }
    assert!(seed::key_states(&config, &user).await[&keys[0]]);
    assert!(seed::has_login_profile(&config, &user).await);
    assert_eq!(seed::user_policy(&config, &user, POLICY_NAME).await, None);
}

#[tokio::test]
async fn each_function_ignores_the_others_findings() {
    let config = cloud().await;
    let role = seed::iam_role(&config, "data-pipeline", "/").await;
    let (user, keys, _) = seed::iam_user(&config, 1, 0, true).await;
    let r = responder(&config, &[]).await;
    let on_role = r.handle(Function::DisableIamUser, &role_event(ROLE_FINDING, &role), None).await.unwrap();
    assert_eq!(on_role.outcome, Outcome::Skipped);
    let on_user =
        r.handle(Function::RevokeRoleSessions, &user_event(USER_FINDING, &user, &keys[0]), None).await.unwrap();
    assert_eq!(on_user.outcome, Outcome::Skipped);
    assert_eq!(seed::role_policy(&config, &role, POLICY_NAME).await, None);
    assert!(seed::key_states(&config, &user).await[&keys[0]]);
}

/// One exfiltration finding: the role's sessions are revoked and the
/// instance whose credentials they were is quarantined.
#[tokio::test]
async fn credential_exfiltration_denies_the_stolen_session_and_quarantines_the_source() {
    use responder_core::revocation::STOLEN_SESSIONS_POLICY;
    let config = cloud().await;
    let net = Network::create(&config).await;
    let opts = InstanceOptions { second_eni: false, profile: false, asg: false, exempt: false };
    let (source, sibling) = (net.instance(&config, opts).await, net.instance(&config, opts).await);
    let role = seed::iam_role(&config, "web-app-role", "/").await;
    let role_id = aws_sdk_iam::Client::new(&config).get_role().role_name(&role).send().await.unwrap();
    let role_id = role_id.role().unwrap().role_id().to_owned();
    let exfiltration = |instance: &str| {
        fixture_with(
            "iam-instance-credential-exfiltration-outside-aws.json",
            &[("i-0a1b2c3d4e5f67890", instance), ("web-app-role", role.as_str())],
        )
    };
    let event = exfiltration(&source.id);
    let r = responder(&config, &[]).await;
    let before = Utc::now() - chrono::Duration::minutes(5);
    let (revoked, quarantined) = futures::join!(
        r.handle(Function::RevokeRoleSessions, &event, None),
        r.handle(Function::QuarantineInstance, &event, None),
    );
    let revoked = revoked.unwrap();
    assert_eq!(revoked.outcome, Outcome::Contained, "{revoked:#?}");
    assert!(revoked.notes.iter().any(|n| n.contains(&source.id)), "the report names the source instance");
    let quarantined = quarantined.unwrap();
    assert_eq!(quarantined.outcome, Outcome::Contained, "{quarantined:#?}");
    let iso = seed::responder_groups(&config, &net.vpc, "isolation").await;
    assert_eq!(seed::eni_groups(&config, &source.primary_eni).await, vec![iso[0].group_id().unwrap().to_owned()]);

    // Not every session of the role: the sibling instance keeps working.
    assert_eq!(seed::role_policy(&config, &role, POLICY_NAME).await, None, "every session was revoked");
    let doc = seed::role_policy(&config, &role, STOLEN_SESSIONS_POLICY).await.expect("the stolen session's deny");
    let session = |instance: &str| format!("{role_id}:{instance}");
    assert!(denies(&doc, &session(&source.id), before), "the stolen session still works: {doc}");
    assert!(!denies(&doc, &session(&sibling.id), before), "the sibling instance is cut off: {doc}");
    assert!(!denies(&doc, &session(&source.id), Utc::now() + chrono::Duration::minutes(5)), "{doc}");

    // A second instance's credentials stolen later: both denied, one policy.
    let second = r.handle(Function::RevokeRoleSessions, &exfiltration(&sibling.id), None).await.unwrap();
    assert_eq!(second.outcome, Outcome::Contained, "{second:#?}");
    let doc = seed::role_policy(&config, &role, STOLEN_SESSIONS_POLICY).await.unwrap();
    assert!(denies(&doc, &session(&source.id), before) && denies(&doc, &session(&sibling.id), before), "{doc}");
    // A repeat changes nothing.
    let again = r.handle(Function::RevokeRoleSessions, &event, None).await.unwrap();
    assert!(again.steps.iter().all(|s| s.status != StepStatus::Done || is_read(&s.action)), "{again:#?}");

    // Release removes exactly the responder's denials and records.
    let run = release_role(&Cloud::new(&config), &role).await;
    assert!(run.log.all_held(), "{:#?}", run.log.records);
    assert_eq!(seed::role_policy(&config, &role, STOLEN_SESSIONS_POLICY).await, None);
    let tags = aws_sdk_iam::Client::new(&config).list_role_tags().role_name(&role).send().await.unwrap();
    assert!(tags.tags().iter().all(|t| !t.key().starts_with("guardduty-responder:")), "{tags:?}");

    // The old behaviour, when a team wants it: every session of the role.
    let all = responder(&config, &[("EXFILTRATION_REVOKE_ALL_SESSIONS", "true")]).await;
    let report = all.handle(Function::RevokeRoleSessions, &exfiltration(&source.id), None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Contained, "{report:#?}");
    assert!(seed::role_policy(&config, &role, POLICY_NAME).await.is_some());
}

/// Whether `document` denies a session with `user_id` whose token was
/// issued at `issued`: the policy evaluation IAM does for the two condition
/// operators the responder writes (the emulator evaluates actions only).
fn denies(document: &str, user_id: &str, issued: chrono::DateTime<Utc>) -> bool {
    let doc: serde_json::Value = serde_json::from_str(&responder_e2e::faults::decode(document)).unwrap();
    doc["Statement"].as_array().unwrap().iter().filter(|s| s["Effect"] == "Deny").any(|s| {
        let conditions = s["Condition"].as_object().unwrap();
        conditions.iter().all(|(operator, keys)| match operator.as_str() {
            "StringEquals" => keys.as_object().unwrap().iter().all(|(k, v)| match k.as_str() {
                "aws:userid" => v.as_str() == Some(user_id),
                other => panic!("condition key {other} is not evaluated here"),
            }),
            "DateLessThan" => keys.as_object().unwrap().iter().all(|(k, v)| match k.as_str() {
                "aws:TokenIssueTime" => issued < chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap(),
                other => panic!("condition key {other} is not evaluated here"),
            }),
            other => panic!("operator {other} is not evaluated here"),
        })
    })
}

/// A revocation a person put earlier (the console's "Revoke active sessions"
/// writes the same policy name) survives a containment and its release.
#[tokio::test]
async fn a_revocation_that_was_there_before_is_put_back_on_release() {
    use responder_core::revocation::policy_document;
    let config = cloud().await;
    let earlier = chrono::DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z").unwrap().with_timezone(&Utc);
    let iam = aws_sdk_iam::Client::new(&config);

    let role = seed::iam_role(&config, "data-pipeline", "/").await;
    iam.put_role_policy()
        .role_name(&role)
        .policy_name(POLICY_NAME)
        .policy_document(policy_document(earlier))
        .send()
        .await
        .unwrap();
    let (user, keys, _) = seed::iam_user(&config, 1, 0, false).await;
    iam.put_user_policy()
        .user_name(&user)
        .policy_name(POLICY_NAME)
        .policy_document(policy_document(earlier))
        .send()
        .await
        .unwrap();

    let r = responder(&config, &[]).await;
    let report = r.handle(Function::RevokeRoleSessions, &role_event(ROLE_FINDING, &role), None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Contained, "{report:#?}");
    let report = r.handle(Function::DisableIamUser, &user_event(USER_FINDING, &user, &keys[0]), None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Contained, "{report:#?}");
    let moved = |doc: Option<String>| cutoff_of(&doc.expect("policy")).expect("cutoff");
    assert!(moved(seed::role_policy(&config, &role, POLICY_NAME).await) > earlier);
    assert!(moved(seed::user_policy(&config, &user, POLICY_NAME).await) > earlier);

    let cloud = Cloud::new(&config);
    let run = release_role(&cloud, &role).await;
    assert!(run.log.all_held(), "{:#?}", run.log.records);
    assert_eq!(moved(seed::role_policy(&config, &role, POLICY_NAME).await), earlier, "the earlier cutoff is back");
    let run = release_user(&cloud, &user).await;
    assert!(run.log.all_held(), "{:#?}", run.log.records);
    assert_eq!(moved(seed::user_policy(&config, &user, POLICY_NAME).await), earlier, "the earlier cutoff is back");
    assert!(seed::key_states(&config, &user).await[&keys[0]], "the key is active again");
}

/// The state helpers treat only `NoSuchEntity` as "absent": a read that
/// fails for any other reason (here, nothing listens) fails the test instead
/// of passing an absence check.
#[tokio::test]
#[should_panic(expected = "GetLoginProfile")]
async fn a_state_read_that_fails_is_not_an_absence() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let nowhere = responder_e2e::sdk_config(&format!("http://127.0.0.1:{port}")).await;
    seed::has_login_profile(&nowhere, "anyone").await;
}

/// An attack sequence (Extended Threat Detection) names its actors in
/// service.detection.sequence: each IAM user is disabled and each role's
/// sessions revoked, under the same protections; an actor GuardDuty does
/// not name is refused.
#[tokio::test]
async fn an_attack_sequence_contains_each_actor_of_its_kind() {
    const SEQUENCE: &str = "iam-user-attack-sequence-compromised-credentials.json";
    let config = cloud().await;
    let (user, keys, _) = seed::iam_user(&config, 1, 0, true).await;
    let (second, second_keys, _) = seed::iam_user(&config, 1, 0, false).await;
    let (guarded, guarded_keys, _) = seed::iam_user(&config, 1, 0, false).await;
    let role = seed::iam_role(&config, "data-pipeline", "/").await;
    let base = fixture_with(
        SEQUENCE,
        &[("ci-deployer", user.as_str()), ("AKIA2EXAMPLEKEY7QXK3", keys[0].as_str()), ("data-pipeline", role.as_str())],
    );
    // GuardDuty's finding names two more IAM users.
    let mut event: serde_json::Value = serde_json::from_slice(&base).unwrap();
    let actors = event["detail"]["service"]["detection"]["sequence"]["actors"].as_array_mut().unwrap();
    for (name, key) in [(&second, &second_keys[0]), (&guarded, &guarded_keys[0])] {
        actors.push(serde_json::json!({ "id": name, "user": { "name": name, "uid": "AIDAEXAMPLE", "type": "IAMUser", "credentialUid": key } }));
    }
    let event = serde_json::to_vec(&event).unwrap();
    responder_e2e::register_finding(&event);

    let r = responder(&config, &[("PROTECTED_PRINCIPALS", guarded.as_str())]).await;
    let disabled = r.handle(Function::DisableIamUser, &event, None).await.unwrap();
    assert_eq!(disabled.outcome, Outcome::Contained, "{disabled:#?}");
    for (u, k) in [(&user, &keys[0]), (&second, &second_keys[0])] {
        assert!(!seed::key_states(&config, u).await[k], "{u} keeps its key");
        assert!(seed::user_policy(&config, u, POLICY_NAME).await.is_some(), "{u} has no deny");
    }
    assert!(!seed::has_login_profile(&config, &user).await);
    // The protected actor is left alone, and the report says so.
    assert!(seed::key_states(&config, &guarded).await[&guarded_keys[0]]);
    assert!(disabled.notes.iter().any(|n| n.contains(&guarded) && n.contains("protected")), "{disabled:#?}");

    let revoked = r.handle(Function::RevokeRoleSessions, &event, None).await.unwrap();
    assert_eq!(revoked.outcome, Outcome::Contained, "{revoked:#?}");
    assert!(seed::role_policy(&config, &role, POLICY_NAME).await.is_some());

    // An actor added to the event that GuardDuty's finding does not name.
    let (stranger, stranger_keys, _) = seed::iam_user(&config, 1, 0, false).await;
    let mut forged: serde_json::Value = serde_json::from_slice(&event).unwrap();
    forged["detail"]["service"]["detection"]["sequence"]["actors"].as_array_mut().unwrap().push(
        serde_json::json!({ "id": "x", "user": { "name": stranger, "uid": "AIDAX", "type": "IAMUser", "credentialUid": stranger_keys[0] } }),
    );
    let report = r.handle(Function::DisableIamUser, &serde_json::to_vec(&forged).unwrap(), None).await.unwrap();
    assert_eq!(report.outcome, Outcome::Failed, "{report:#?}");
    assert_eq!(report.steps[0].error_code.as_deref(), Some("FindingMismatch"), "{report:#?}");
    assert!(seed::key_states(&config, &stranger).await[&stranger_keys[0]], "the stranger's key was touched");
}
