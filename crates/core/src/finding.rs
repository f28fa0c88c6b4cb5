//! The GuardDuty finding as EventBridge delivers it in `detail`: the API's
//! `Finding` shape in camelCase. Only the fields the responder reads are
//! modelled; everything else is ignored, so new GuardDuty fields never break
//! parsing. Identifiers are parsed into types that cannot hold bad values.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// A GuardDuty finding (`detail` of a "GuardDuty Finding" event).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub id: String,
    #[serde(rename = "type")]
    pub finding_type: FindingType,
    pub severity: Severity,
    /// The account the finding is about (a member account when received in
    /// the administrator account).
    pub account_id: AccountId,
    pub region: String,
    #[serde(default)]
    pub partition: Option<String>,
    #[serde(default)]
    pub arn: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
    pub resource: Resource,
    #[serde(default)]
    pub service: Service,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    pub resource_type: String,
    #[serde(default)]
    pub instance_details: Option<InstanceDetails>,
    #[serde(default)]
    pub access_key_details: Option<AccessKeyDetails>,
    /// S3 Protection findings: the buckets involved.
    #[serde(default, deserialize_with = "null_as_default")]
    pub s3_bucket_details: Vec<S3BucketDetail>,
    /// Lambda Protection findings: the function.
    #[serde(default)]
    pub lambda_details: Option<LambdaDetails>,
    /// RDS Protection findings: the database instance, and the login user.
    #[serde(default)]
    pub rds_db_instance_details: Option<RdsDbInstanceDetails>,
    #[serde(default)]
    pub rds_db_user_details: Option<RdsDbUserDetails>,
    /// Malware Protection for Backup: the snapshot that was scanned.
    #[serde(default)]
    pub ebs_snapshot_details: Option<EbsSnapshotDetails>,
    /// Malware Protection for Backup: the image that was scanned.
    #[serde(default)]
    pub ec2_image_details: Option<Ec2ImageDetails>,
    /// Malware Protection for Backup: the recovery point that was scanned.
    #[serde(default)]
    pub recovery_point_details: Option<serde_json::Value>,
    /// ECS findings (Runtime Monitoring): the cluster and the task.
    #[serde(default)]
    pub ecs_cluster_details: Option<EcsClusterDetails>,
    /// EKS findings: the cluster.
    #[serde(default)]
    pub eks_cluster_details: Option<EksClusterDetails>,
    /// EKS findings: who called the Kubernetes API, and the workload.
    #[serde(default)]
    pub kubernetes_details: Option<KubernetesDetails>,
    /// Runtime findings: the container the process ran in.
    #[serde(default)]
    pub container_details: Option<ContainerDetail>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EcsClusterDetails {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub arn: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub tags: Vec<Tag>,
    #[serde(default)]
    pub task_details: Option<EcsTaskDetails>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EcsTaskDetails {
    #[serde(default)]
    pub arn: Option<String>,
    #[serde(default)]
    pub definition_arn: Option<String>,
    /// `service:NAME` for a service's task, `family:NAME` for a standalone one.
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub launch_type: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub containers: Vec<ContainerDetail>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerDetail {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub image: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EksClusterDetails {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub arn: Option<String>,
    #[serde(default)]
    pub vpc_id: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KubernetesDetails {
    #[serde(default)]
    pub kubernetes_user_details: Option<KubernetesUserDetails>,
    #[serde(default)]
    pub kubernetes_workload_details: Option<KubernetesWorkloadDetails>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KubernetesUserDetails {
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub uid: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub groups: Vec<String>,
    /// The IAM session names behind the user, when it maps to a role.
    #[serde(default, deserialize_with = "null_as_default")]
    pub session_name: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KubernetesWorkloadDetails {
    #[serde(default)]
    pub name: Option<String>,
    /// `pods`, `deployments`, `daemonsets`, … (as the API path names them).
    #[serde(default)]
    pub r#type: Option<String>,
    #[serde(default)]
    pub uid: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub service_account_name: Option<String>,
}

/// The role binding an RBAC finding is about (`service.action`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KubernetesRoleBindingDetails {
    /// `RoleBinding` or `ClusterRoleBinding`.
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub uid: Option<String>,
    #[serde(default)]
    pub role_ref_name: Option<String>,
    #[serde(default)]
    pub role_ref_kind: Option<String>,
}

/// The Kubernetes API call of an EKS audit-log finding.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KubernetesApiCallAction {
    #[serde(default)]
    pub request_uri: Option<String>,
    #[serde(default)]
    pub verb: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub resource: Option<String>,
    #[serde(default)]
    pub resource_name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EbsSnapshotDetails {
    #[serde(default)]
    pub snapshot_arn: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ec2ImageDetails {
    #[serde(default)]
    pub image_arn: Option<String>,
}

/// An object Malware Protection for S3 scanned.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct S3ObjectDetail {
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub version_id: Option<String>,
    #[serde(default)]
    pub e_tag: Option<String>,
    #[serde(default)]
    pub hash: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RdsDbInstanceDetails {
    #[serde(default)]
    pub db_instance_identifier: Option<String>,
    #[serde(default)]
    pub db_cluster_identifier: Option<String>,
    #[serde(default)]
    pub engine: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RdsDbUserDetails {
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub application: Option<String>,
    #[serde(default)]
    pub database: Option<String>,
    #[serde(default)]
    pub auth_method: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LambdaDetails {
    #[serde(default)]
    pub function_name: Option<String>,
    #[serde(default)]
    pub function_arn: Option<String>,
    /// The execution role's ARN.
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct S3BucketDetail {
    #[serde(default)]
    pub name: Option<String>,
    /// Malware Protection for S3: the objects scanned in this bucket.
    #[serde(default, deserialize_with = "null_as_default")]
    pub s3_object_details: Vec<S3ObjectDetail>,
    #[serde(default)]
    pub arn: Option<String>,
    #[serde(default)]
    pub r#type: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceDetails {
    #[serde(default)]
    pub instance_id: Option<InstanceId>,
    #[serde(default)]
    pub instance_state: Option<String>,
    #[serde(default)]
    pub availability_zone: Option<String>,
    #[serde(default)]
    pub image_id: Option<String>,
    #[serde(default)]
    pub instance_type: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub tags: Vec<Tag>,
    /// Seen both as an ISO 8601 string and as epoch seconds.
    #[serde(default)]
    pub launch_time: Option<LaunchTime>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub network_interfaces: Vec<NetworkInterface>,
    #[serde(default)]
    pub iam_instance_profile: Option<IamInstanceProfile>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum LaunchTime {
    Epoch(f64),
    Text(String),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tag {
    pub key: String,
    #[serde(default)]
    pub value: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkInterface {
    #[serde(default)]
    pub network_interface_id: Option<String>,
    #[serde(default)]
    pub vpc_id: Option<String>,
    #[serde(default)]
    pub subnet_id: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub security_groups: Vec<SecurityGroupRef>,
    #[serde(default)]
    pub private_ip_address: Option<String>,
    #[serde(default)]
    pub public_ip: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityGroupRef {
    #[serde(default)]
    pub group_id: Option<String>,
    #[serde(default)]
    pub group_name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IamInstanceProfile {
    #[serde(default)]
    pub arn: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessKeyDetails {
    #[serde(default)]
    pub access_key_id: Option<String>,
    #[serde(default)]
    pub principal_id: Option<String>,
    #[serde(default)]
    pub user_name: Option<String>,
    #[serde(default)]
    pub user_type: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    #[serde(default)]
    pub service_name: Option<String>,
    #[serde(default)]
    pub detector_id: Option<String>,
    /// `ACTOR` (the resource did it) or `TARGET` (it was done to it).
    #[serde(default)]
    pub resource_role: Option<String>,
    #[serde(default)]
    pub count: Option<u64>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub archived: bool,
    #[serde(default)]
    pub event_first_seen: Option<String>,
    #[serde(default)]
    pub event_last_seen: Option<String>,
    #[serde(default)]
    pub additional_info: Option<AdditionalInfo>,
    #[serde(default)]
    pub action: Option<Action>,
    /// Extended Threat Detection: for attack sequences, `sequence` with the
    /// actors and resources involved. Read leniently (see `target`).
    #[serde(default)]
    pub detection: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdditionalInfo {
    /// `true` on generated sample findings. Seen as a boolean; tolerated as
    /// the strings `"true"`/`"false"` too, since a missed sample flag would
    /// let the responder act on dummy data.
    #[serde(default, deserialize_with = "bool_or_string")]
    pub sample: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Action {
    #[serde(default)]
    pub action_type: Option<String>,
    #[serde(default)]
    pub aws_api_call_action: Option<AwsApiCallAction>,
    #[serde(default)]
    pub network_connection_action: Option<serde_json::Value>,
    #[serde(default)]
    pub dns_request_action: Option<serde_json::Value>,
    #[serde(default)]
    pub port_probe_action: Option<serde_json::Value>,
    #[serde(default)]
    pub kubernetes_api_call_action: Option<KubernetesApiCallAction>,
    #[serde(default)]
    pub kubernetes_role_binding_details: Option<KubernetesRoleBindingDetails>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AwsApiCallAction {
    #[serde(default)]
    pub api: Option<String>,
    #[serde(default)]
    pub service_name: Option<String>,
    #[serde(default)]
    pub caller_type: Option<String>,
    #[serde(default)]
    pub error_code: Option<String>,
    #[serde(default)]
    pub remote_ip_details: Option<serde_json::Value>,
    /// Maps a resource type (`AWS::CloudTrail::Trail`) to a name or ARN.
    #[serde(default, deserialize_with = "null_as_default")]
    pub affected_resources: BTreeMap<String, String>,
}

impl Finding {
    /// The tags the finding carries for its resource (instance, buckets,
    /// function, database): hints as of the finding, not read live.
    pub fn resource_tags(&self) -> impl Iterator<Item = &Tag> {
        let r = &self.resource;
        let instance = r.instance_details.iter().flat_map(|d| &d.tags);
        let buckets = r.s3_bucket_details.iter().flat_map(|b| &b.tags);
        let function = r.lambda_details.iter().flat_map(|d| &d.tags);
        let database = r.rds_db_instance_details.iter().flat_map(|d| &d.tags);
        let ecs =
            r.ecs_cluster_details.iter().flat_map(|d| d.tags.iter().chain(d.task_details.iter().flat_map(|t| &t.tags)));
        let eks = r.eks_cluster_details.iter().flat_map(|d| &d.tags);
        instance.chain(buckets).chain(function).chain(database).chain(ecs).chain(eks)
    }

    pub fn is_sample(&self) -> bool {
        self.service.additional_info.as_ref().is_some_and(|i| i.sample)
    }

    pub fn is_archived(&self) -> bool {
        self.service.archived
    }

    /// `ACTOR`, `TARGET`, or `None` when GuardDuty did not say.
    pub fn resource_role(&self) -> Option<&str> {
        self.service.resource_role.as_deref()
    }

    pub fn partition(&self) -> &str {
        self.partition.as_deref().unwrap_or("aws")
    }
}

fn null_as_default<'de, D, T>(de: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(de)?.unwrap_or_default())
}

fn bool_or_string<'de, D: Deserializer<'de>>(de: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Text(String),
    }
    match Option::<Flag>::deserialize(de)? {
        None => Ok(false),
        Some(Flag::Bool(b)) => Ok(b),
        Some(Flag::Text(t)) if t.eq_ignore_ascii_case("true") => Ok(true),
        Some(Flag::Text(t)) if t.eq_ignore_ascii_case("false") || t.is_empty() => Ok(false),
        Some(Flag::Text(t)) => Err(serde::de::Error::custom(format!("expected a boolean, found the string {t:?}"))),
    }
}

/// Declares a string newtype that is parsed on the way in, so a value of the
/// type is always well-formed.
macro_rules! parsed_string {
    ($(#[$doc:meta])* $name:ident, $what:literal, $check:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Parses `text`, or says why it is not one.
            pub fn parse(text: &str) -> Result<Self, String> {
                let check: fn(&str) -> bool = $check;
                if check(text) {
                    Ok($name(text.to_owned()))
                } else {
                    Err(format!(concat!("{:?} is not ", $what), truncate(text, 80)))
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(text: String) -> Result<Self, String> {
                Self::parse(&text)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
                let text = String::deserialize(de)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:?}", self.0)
            }
        }
    };
}

parsed_string!(
    /// A 12-digit AWS account id.
    AccountId,
    "an AWS account id (12 digits)",
    |s| s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
);

parsed_string!(
    /// An EC2 instance id: `i-` and 8 or 17 lowercase hex digits.
    InstanceId,
    "an EC2 instance id (i- and 8 or 17 hex digits)",
    |s| s.strip_prefix("i-").is_some_and(|hex| {
        (hex.len() == 8 || hex.len() == 17)
            && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
);

/// Shortens `text` for an error message, on a character boundary.
pub(crate) fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(max_chars).collect();
        format!("{cut}…")
    }
}

/// GuardDuty severity: 1.0–10.0.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize)]
#[serde(transparent)]
pub struct Severity(f64);

/// The four bands GuardDuty names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SeverityLabel {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const MIN: f64 = 1.0;
    pub const MAX: f64 = 10.0;

    pub fn new(value: f64) -> Result<Self, String> {
        if value.is_finite() && (Self::MIN..=Self::MAX).contains(&value) {
            Ok(Severity(value))
        } else {
            Err(format!("severity {value} is outside GuardDuty's range {}–{}", Self::MIN, Self::MAX))
        }
    }

    pub fn value(self) -> f64 {
        self.0
    }

    /// Low 1.0–3.9, Medium 4.0–6.9, High 7.0–8.9, Critical 9.0–10.0.
    pub fn label(self) -> SeverityLabel {
        match self.0 {
            v if v < 4.0 => SeverityLabel::Low,
            v if v < 7.0 => SeverityLabel::Medium,
            v if v < 9.0 => SeverityLabel::High,
            _ => SeverityLabel::Critical,
        }
    }
}

impl<'de> Deserialize<'de> for Severity {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        let value = f64::deserialize(de)?;
        Severity::new(value).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.1}", self.0)
    }
}

impl fmt::Display for SeverityLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SeverityLabel::Low => "LOW",
            SeverityLabel::Medium => "MEDIUM",
            SeverityLabel::High => "HIGH",
            SeverityLabel::Critical => "CRITICAL",
        })
    }
}

/// A finding type, `ThreatPurpose:ResourceTypeAffected/ThreatFamilyName.DetectionMechanism!Artifact`,
/// for example `CryptoCurrency:EC2/BitcoinTool.B!DNS`. Mechanism and artifact
/// are optional.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct FindingType {
    text: String,
    #[serde(skip)]
    colon: usize,
    #[serde(skip)]
    slash: usize,
}

impl FindingType {
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || {
            format!("finding type {:?} is not of the form ThreatPurpose:ResourceType/ThreatFamily", truncate(text, 80))
        };
        let colon = text.find(':').ok_or_else(bad)?;
        let slash = colon + text[colon..].find('/').ok_or_else(bad)?;
        let well_formed = colon > 0
            && slash > colon + 1
            && slash + 1 < text.len()
            && text.len() <= 256
            && text.chars().all(|c| c.is_ascii_graphic());
        if !well_formed {
            return Err(bad());
        }
        Ok(FindingType { text: text.to_owned(), colon, slash })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// `CryptoCurrency` in `CryptoCurrency:EC2/BitcoinTool.B!DNS`.
    pub fn threat_purpose(&self) -> &str {
        &self.text[..self.colon]
    }

    /// `EC2` in `CryptoCurrency:EC2/BitcoinTool.B!DNS`.
    pub fn resource_type(&self) -> &str {
        &self.text[self.colon + 1..self.slash]
    }

    /// `BitcoinTool.B!DNS`: everything after the slash.
    fn tail(&self) -> &str {
        &self.text[self.slash + 1..]
    }

    /// `BitcoinTool` in `CryptoCurrency:EC2/BitcoinTool.B!DNS`.
    pub fn threat_family(&self) -> &str {
        let tail = self.tail();
        let end = tail.find(['.', '!']).unwrap_or(tail.len());
        &tail[..end]
    }

    /// `B` in `CryptoCurrency:EC2/BitcoinTool.B!DNS`; `OutsideAWS` in
    /// `UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS`.
    pub fn detection_mechanism(&self) -> Option<&str> {
        let tail = self.tail();
        let without_artifact = tail.split('!').next().unwrap_or(tail);
        without_artifact.split_once('.').map(|(_, m)| m)
    }

    /// `DNS` in `CryptoCurrency:EC2/BitcoinTool.B!DNS`.
    pub fn artifact(&self) -> Option<&str> {
        self.tail().split_once('!').map(|(_, a)| a)
    }
}

impl<'de> Deserialize<'de> for FindingType {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        let text = String::deserialize(de)?;
        FindingType::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for FindingType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for FindingType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_bands_follow_guardduty() {
        let label = |v| Severity::new(v).map(Severity::label);
        assert_eq!(label(1.0), Ok(SeverityLabel::Low));
        assert_eq!(label(3.9), Ok(SeverityLabel::Low));
        assert_eq!(label(3.95), Ok(SeverityLabel::Low));
        assert_eq!(label(4.0), Ok(SeverityLabel::Medium));
        assert_eq!(label(6.9), Ok(SeverityLabel::Medium));
        assert_eq!(label(7.0), Ok(SeverityLabel::High));
        assert_eq!(label(7.5), Ok(SeverityLabel::High));
        assert_eq!(label(8.9), Ok(SeverityLabel::High));
        assert_eq!(label(9.0), Ok(SeverityLabel::Critical));
        assert_eq!(label(10.0), Ok(SeverityLabel::Critical));
        assert!(Severity::new(0.0).is_err());
        assert!(Severity::new(10.1).is_err());
        assert!(Severity::new(f64::NAN).is_err());
        assert!(Severity::new(f64::INFINITY).is_err());
    }

    #[test]
    fn finding_types_split_into_their_parts() {
        let t = FindingType::parse("CryptoCurrency:EC2/BitcoinTool.B!DNS").unwrap();
        assert_eq!(t.threat_purpose(), "CryptoCurrency");
        assert_eq!(t.resource_type(), "EC2");
        assert_eq!(t.threat_family(), "BitcoinTool");
        assert_eq!(t.detection_mechanism(), Some("B"));
        assert_eq!(t.artifact(), Some("DNS"));

        let t = FindingType::parse("UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS").unwrap();
        assert_eq!(t.resource_type(), "IAMUser");
        assert_eq!(t.threat_family(), "InstanceCredentialExfiltration");
        assert_eq!(t.detection_mechanism(), Some("OutsideAWS"));
        assert_eq!(t.artifact(), None);

        let t = FindingType::parse("Execution:EC2/MaliciousFile!Snapshot").unwrap();
        assert_eq!(t.threat_family(), "MaliciousFile");
        assert_eq!(t.detection_mechanism(), None);
        assert_eq!(t.artifact(), Some("Snapshot"));

        let t = FindingType::parse("Backdoor:EC2/C&CActivity.B!DNS").unwrap();
        assert_eq!(t.threat_family(), "C&CActivity");

        for bad in ["", "EC2", "Backdoor:EC2", ":EC2/X", "Backdoor:/X", "Backdoor:EC2/", "A:B/C D"] {
            assert!(FindingType::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn identifiers_are_checked() {
        assert!(AccountId::parse("123456789012").is_ok());
        for bad in ["12345678901", "1234567890123", "12345678901a", ""] {
            assert!(AccountId::parse(bad).is_err());
        }
        assert!(InstanceId::parse("i-0123456789abcdef0").is_ok());
        assert!(InstanceId::parse("i-99999999").is_ok());
        for bad in ["i-", "i-123", "i-0123456789ABCDEF0", "x-0123456789abcdef0", "i-0123456789abcdef0 "] {
            assert!(InstanceId::parse(bad).is_err(), "{bad:?}");
        }
    }
}
