//! contain-lambda-function: which Lambda Protection findings stop the function.

use crate::finding::Finding;
use crate::plan::{Plan, Scope, Skip};
use crate::policy::Policy;
use crate::target::Target;

use super::{gates, matches_any, severity_gate};

/// Lambda Protection findings that contain the function.
const LAMBDA_TYPES: &[&str] =
    &["Backdoor:Lambda/*", "CryptoCurrency:Lambda/*", "Trojan:Lambda/*", "UnauthorizedAccess:Lambda/*"];

/// contain-lambda-function.
pub(crate) fn contain_lambda_function(
    target: Target,
    finding: &Finding,
    policy: &Policy,
    scope: Scope,
) -> Result<Plan, Skip> {
    let finding_type = finding.finding_type.as_str();
    let Target::LambdaFunction { function_name } = target else {
        return Err(Skip::NotForThisFunction(match target {
            Target::Unsupported { reason } if finding.resource.resource_type == "Lambda" => reason,
            _ => "the finding is not about a Lambda function".into(),
        }));
    };
    if !matches_any(LAMBDA_TYPES, finding_type) {
        return Err(Skip::TypeNotHandled(finding_type.to_owned()));
    }
    gates(finding, policy)?;
    severity_gate(finding, policy)?;
    Ok(Plan::ContainFunction { scope, function_name })
}
