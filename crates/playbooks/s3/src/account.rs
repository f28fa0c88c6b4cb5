//! The account-level block: the same four settings for every bucket of the
//! account (S3 Control), turned back on when someone turned them off.
//!
//! The account has no tags to hold a record, so what it had is kept in an
//! SSM parameter of the account and region the finding came from
//! ([`RECORD_PARAMETER`]), written once (never overwritten) before the
//! block changes. Release puts that back (deletes the block when there was
//! none), then deletes the parameter.
//!
//! IAM actions: s3:GetAccountPublicAccessBlock, s3:PutAccountPublicAccessBlock;
//! ssm:PutParameter (on `parameter/guardduty-responder/*`).

use aws_sdk_s3control::types::PublicAccessBlockConfiguration;
use responder_core::{Policy, StepStatus};

use crate::Cloud;
use crate::failure::{AwsFailure, absent_on};
use crate::s3::{Block, NO_BLOCK_CODE, describe, put_back, record_of};
use crate::steps::{Execution, Held, NOT_CONFIRMED, timed};
use crate::verify::Gate;

/// Where the account's block before the responder's change is kept.
pub const RECORD_PARAMETER: &str = "/guardduty-responder/original-account-public-access-block";

async fn block(cloud: &Cloud, account: &str) -> Result<Option<Block>, AwsFailure> {
    let out = cloud.s3control.get_public_access_block().account_id(account).send().await;
    Ok(absent_on(out, &[NO_BLOCK_CODE])?.map(|out| {
        let c = out.public_access_block_configuration();
        Block::of([
            c.and_then(|c| c.block_public_acls()),
            c.and_then(|c| c.ignore_public_acls()),
            c.and_then(|c| c.block_public_policy()),
            c.and_then(|c| c.restrict_public_buckets()),
        ])
    }))
}

async fn put_block(cloud: &Cloud, account: &str, b: Block) -> Result<(), AwsFailure> {
    let config = PublicAccessBlockConfiguration::builder()
        .block_public_acls(b.block_public_acls)
        .ignore_public_acls(b.ignore_public_acls)
        .block_public_policy(b.block_public_policy)
        .restrict_public_buckets(b.restrict_public_buckets)
        .build();
    cloud
        .s3control
        .put_public_access_block()
        .account_id(account)
        .public_access_block_configuration(config)
        .send()
        .await?;
    Ok(())
}

/// Writes the record unless one exists; says whether it wrote it.
async fn record(cloud: &Cloud, value: &str) -> Result<bool, AwsFailure> {
    let put = cloud
        .ssm
        .put_parameter()
        .name(RECORD_PARAMETER)
        .value(value)
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .description("guardduty-responder: the account's S3 public access block before the responder turned it on")
        .overwrite(false)
        .send()
        .await;
    match put {
        Ok(_) => Ok(true),
        Err(e) => match AwsFailure::from(e) {
            f if f.is_code("ParameterAlreadyExists") => Ok(false),
            f => Err(f),
        },
    }
}

pub async fn protect(cloud: &Cloud, account: &str, policy: &Policy, gate: &Gate) -> Execution {
    let mut run = Execution::default();
    let target = format!("account {account}");
    let now = match block(cloud, account).await {
        Ok(b) => b,
        Err(f) => {
            run.log.push("describe-account-block", &target, Err(f));
            return run;
        }
    };
    run.log.push("describe-account-block", &target, Ok(Held::done(describe(now))));
    if now == Some(Block::ALL_ON) {
        run.log.push("block-account-public-access", &target, Ok(Held::already("all four settings already on")));
        return run;
    }
    let value = record_of(now);
    if policy.dry_run {
        run.log.push_status("record-account-block", RECORD_PARAMETER, StepStatus::Planned, value);
        run.log.push_status("block-account-public-access", &target, StepStatus::Planned, "all four settings on");
        return run;
    }
    if gate.clone().await.is_err() {
        run.log.push_status("record-account-block", RECORD_PARAMETER, StepStatus::Skipped, NOT_CONFIRMED);
        run.log.push_status("block-account-public-access", &target, StepStatus::Skipped, NOT_CONFIRMED);
        return run;
    }
    let recorded = timed(async {
        record(cloud, &value)
            .await
            .map(|wrote| if wrote { Held::done(value.clone()) } else { Held::already("recorded by an earlier run") })
    })
    .await;
    let ok = recorded.result.is_ok();
    run.log.push("record-account-block", RECORD_PARAMETER, recorded);
    if !ok {
        run.log.push_status(
            "block-account-public-access",
            &target,
            StepStatus::Skipped,
            "not run: the record was not written",
        );
        return run;
    }
    let blocked =
        timed(async { put_block(cloud, account, Block::ALL_ON).await.map(|()| Held::done("all four settings on")) })
            .await;
    run.log.push("block-account-public-access", &target, blocked);
    run
}

/// Puts back the account's block as recorded, then deletes the record.
pub async fn release(cloud: &Cloud, account: &str) -> Execution {
    let mut run = Execution::default();
    let target = format!("account {account}");
    let recorded =
        match absent_on(cloud.ssm.get_parameter().name(RECORD_PARAMETER).send().await, &["ParameterNotFound"]) {
            Ok(out) => out.and_then(|out| out.parameter().and_then(|p| p.value()).map(str::to_owned)),
            Err(f) => {
                run.log.push("read-account-record", RECORD_PARAMETER, Err(f));
                return run;
            }
        };
    let Some(recorded) = recorded else {
        run.skipped =
            Some(format!("{target} has no record of the responder's ({RECORD_PARAMETER}): nothing to release"));
        return run;
    };
    run.log.push("read-account-record", RECORD_PARAMETER, Ok(Held::done(recorded.clone())));
    let now = match block(cloud, account).await {
        Ok(b) => b,
        Err(f) => {
            run.log.push("describe-account-block", &target, Err(f));
            return run;
        }
    };
    let delete = || async {
        cloud.s3control.delete_public_access_block().account_id(account).send().await?;
        Ok(())
    };
    let restored = put_back(&recorded, now, |original| put_block(cloud, account, original), delete).await;
    let ok = restored.is_ok();
    run.log.push("restore-account-block", &target, restored);
    if ok {
        let deleted = cloud
            .ssm
            .delete_parameter()
            .name(RECORD_PARAMETER)
            .send()
            .await
            .map(|_| Held::done("record removed"))
            .map_err(AwsFailure::from);
        run.log.push("delete-account-record", RECORD_PARAMETER, deleted);
    }
    run
}
