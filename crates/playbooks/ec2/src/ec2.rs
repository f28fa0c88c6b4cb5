//! EC2 adapter: the describes and changes quarantine and release need, in the
//! responder's own terms. Every list accessor of the SDK yields an empty
//! slice when the field is absent, and every missing string is handled: a
//! strange response is reported, never unwrapped.

use std::collections::BTreeMap;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{
    AttributeBooleanValue, AttributeValue, Filter, IamInstanceProfileSpecification, InstanceAttributeName,
    IpPermission, IpRange, Ipv6Range, ResourceType, Tag, TagSpecification,
};
use responder_core::tags;

use crate::failure::{AwsFailure, absent_on};
use crate::steps::{Held, StepResult};

/// The instance as EC2 sees it now.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InstanceView {
    pub id: String,
    pub state: String,
    pub tags: BTreeMap<String, String>,
    /// EBS volumes attached, with their device names.
    pub volumes: Vec<(String, String)>,
    /// Devices whose volume is deleted when the instance terminates.
    pub deleted_on_termination: Vec<String>,
    /// `HttpTokens` and the PUT response hop limit, when EC2 reports them.
    pub metadata: Option<(String, i32)>,
    /// What else the description says, for the evidence record: image,
    /// type, launch time, key pair, placement, addresses.
    pub facts: BTreeMap<&'static str, String>,
    /// The instance profile it has, as the description names it.
    pub profile_arn: Option<String>,
    /// Its ENIs as the description lists them: groups, VPC and addresses,
    /// but not the ENIs' own tags (see [`describe_enis`]).
    #[serde(skip)]
    pub enis: Vec<EniView>,
}

/// A network interface attached to the instance.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EniView {
    pub id: String,
    pub vpc_id: String,
    pub groups: Vec<String>,
    pub tags: BTreeMap<String, String>,
    /// Its private IPv4 addresses: a load balancer may serve them as `ip` targets.
    pub private_ips: Vec<String>,
}

impl EniView {
    /// The view of an ENI as `DescribeNetworkInterfaces` answers it (its
    /// own tags included), under the id `id`.
    pub fn of(id: &str, eni: &aws_sdk_ec2::types::NetworkInterface) -> EniView {
        EniView {
            id: id.to_owned(),
            vpc_id: eni.vpc_id().unwrap_or_default().to_owned(),
            groups: eni.groups().iter().filter_map(|g| g.group_id().map(str::to_owned)).collect(),
            tags: tag_map(eni.tag_set()),
            private_ips: eni
                .private_ip_addresses()
                .iter()
                .filter_map(|a| a.private_ip_address().map(str::to_owned))
                .collect(),
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ProfileAssociation {
    pub id: String,
    pub arn: String,
}

/// The two kinds of security group the responder owns, one of each per VPC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum GroupRole {
    /// Allows everything, both ways, for IPv4 and IPv6: moving an ENI onto it
    /// turns tracked connections into untracked ones, which the isolation
    /// group then cuts at once.
    Untrack,
    /// No inbound and no outbound rule.
    Isolation,
}

impl GroupRole {
    pub fn tag_value(self) -> &'static str {
        match self {
            GroupRole::Untrack => "untrack",
            GroupRole::Isolation => "isolation",
        }
    }

    pub fn group_name(self, vpc_id: &str) -> String {
        format!("guardduty-responder-{}-{vpc_id}", self.tag_value())
    }

    fn description(self) -> &'static str {
        match self {
            GroupRole::Untrack => "guardduty-responder: allow-all step of two-step isolation (untracks connections)",
            GroupRole::Isolation => "guardduty-responder: quarantine, no inbound or outbound traffic",
        }
    }
}

/// A security group owned by the responder.
#[derive(Debug, Clone)]
pub struct GroupView {
    pub id: String,
    pub vpc_id: String,
    pub role: GroupRole,
    pub ingress: Vec<IpPermission>,
    pub egress: Vec<IpPermission>,
}

pub fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter().filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned()))).collect()
}

fn filter(name: &str, values: &[&str]) -> Filter {
    Filter::builder().name(name).set_values(Some(values.iter().map(|v| v.to_string()).collect())).build()
}

fn ec2_tags(pairs: &[(String, String)]) -> Vec<Tag> {
    pairs.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

/// The instance, or `None` when EC2 does not know it.
pub async fn describe_instance(ec2: &Client, id: &str) -> Result<Option<InstanceView>, AwsFailure> {
    let out = match ec2.describe_instances().instance_ids(id).send().await {
        Ok(out) => out,
        Err(e) => {
            let failure = AwsFailure::from(e);
            if failure.code.as_deref().is_some_and(|c| c.starts_with("InvalidInstanceID")) {
                return Ok(None);
            }
            return Err(failure);
        }
    };
    let Some(instance) = out.reservations().iter().flat_map(|r| r.instances()).find(|i| i.instance_id() == Some(id))
    else {
        return Ok(None);
    };
    Ok(Some(InstanceView {
        id: id.to_owned(),
        state: instance.state().and_then(|s| s.name()).map(|n| n.as_str().to_owned()).unwrap_or_default(),
        tags: tag_map(instance.tags()),
        volumes: instance
            .block_device_mappings()
            .iter()
            .filter_map(|m| {
                let volume = m.ebs()?.volume_id()?.to_owned();
                Some((volume, m.device_name().unwrap_or_default().to_owned()))
            })
            .collect(),
        deleted_on_termination: instance
            .block_device_mappings()
            .iter()
            .filter(|m| m.ebs().and_then(|e| e.delete_on_termination()).unwrap_or(false))
            .filter_map(|m| m.device_name().map(str::to_owned))
            .collect(),
        metadata: instance.metadata_options().and_then(|m| {
            let tokens = m.http_tokens()?.as_str().to_owned();
            Some((tokens, m.http_put_response_hop_limit().unwrap_or(1)))
        }),
        facts: [
            ("image_id", instance.image_id().map(str::to_owned)),
            ("instance_type", instance.instance_type().map(|t| t.as_str().to_owned())),
            ("launch_time", instance.launch_time().map(|t| t.to_string())),
            ("key_name", instance.key_name().map(str::to_owned)),
            ("availability_zone", instance.placement().and_then(|p| p.availability_zone()).map(str::to_owned)),
            ("vpc_id", instance.vpc_id().map(str::to_owned)),
            ("subnet_id", instance.subnet_id().map(str::to_owned)),
            ("private_ip", instance.private_ip_address().map(str::to_owned)),
            ("public_ip", instance.public_ip_address().map(str::to_owned)),
            ("platform", instance.platform_details().map(str::to_owned)),
            ("architecture", instance.architecture().map(|a| a.as_str().to_owned())),
        ]
        .into_iter()
        .filter_map(|(k, v)| Some((k, v?)))
        .collect(),
        profile_arn: instance.iam_instance_profile().and_then(|p| p.arn()).map(str::to_owned),
        enis: {
            let enis: Vec<(i32, EniView)> = instance
                .network_interfaces()
                .iter()
                .filter_map(|eni| {
                    let index = eni.attachment().and_then(|a| a.device_index()).unwrap_or(i32::MAX);
                    Some((
                        index,
                        EniView {
                            id: eni.network_interface_id()?.to_owned(),
                            vpc_id: eni.vpc_id().unwrap_or_default().to_owned(),
                            groups: eni.groups().iter().filter_map(|g| g.group_id().map(str::to_owned)).collect(),
                            tags: BTreeMap::new(),
                            private_ips: eni
                                .private_ip_addresses()
                                .iter()
                                .filter_map(|a| a.private_ip_address().map(str::to_owned))
                                .collect(),
                        },
                    ))
                })
                .collect();
            by_device_index(enis)
        },
    }))
}

/// The instance's console output as EC2 returns it (base64), for the
/// evidence record; `None` when there is none yet.
pub async fn console_output(ec2: &Client, instance_id: &str) -> Result<Option<String>, AwsFailure> {
    let out = ec2.get_console_output().instance_id(instance_id).send().await?;
    Ok(out.output().filter(|o| !o.is_empty()).map(str::to_owned))
}

/// Every ENI attached to the instance, from `DescribeNetworkInterfaces`
/// (which, unlike `DescribeInstances`, carries the ENIs' own tags).
pub async fn describe_enis(ec2: &Client, instance_id: &str) -> Result<Vec<EniView>, AwsFailure> {
    let mut enis = Vec::new();
    let mut pages = ec2
        .describe_network_interfaces()
        .filters(filter("attachment.instance-id", &[instance_id]))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for eni in page?.network_interfaces() {
            let Some(id) = eni.network_interface_id() else { continue };
            let index = eni.attachment().and_then(|a| a.device_index()).unwrap_or(i32::MAX);
            enis.push((index, EniView::of(id, eni)));
        }
    }
    Ok(by_device_index(enis))
}

/// The ENIs in attachment order (the primary first), whatever their ids:
/// reports and requests list them the same way for every instance.
fn by_device_index(mut enis: Vec<(i32, EniView)>) -> Vec<EniView> {
    enis.sort_by(|(a, x), (b, y)| a.cmp(b).then_with(|| x.id.cmp(&y.id)));
    enis.into_iter().map(|(_, eni)| eni).collect()
}

pub async fn termination_protection(ec2: &Client, instance_id: &str) -> Result<bool, AwsFailure> {
    let out = ec2
        .describe_instance_attribute()
        .instance_id(instance_id)
        .attribute(InstanceAttributeName::DisableApiTermination)
        .send()
        .await?;
    Ok(out.disable_api_termination().and_then(|v| v.value()).unwrap_or(false))
}

pub async fn shutdown_behavior(ec2: &Client, instance_id: &str) -> Result<String, AwsFailure> {
    let out = ec2
        .describe_instance_attribute()
        .instance_id(instance_id)
        .attribute(InstanceAttributeName::InstanceInitiatedShutdownBehavior)
        .send()
        .await?;
    Ok(out.instance_initiated_shutdown_behavior().and_then(|v| v.value()).unwrap_or("stop").to_owned())
}

/// The instance profile currently associated (or associating), if any.
pub async fn profile_association(ec2: &Client, instance_id: &str) -> Result<Option<ProfileAssociation>, AwsFailure> {
    let out =
        ec2.describe_iam_instance_profile_associations().filters(filter("instance-id", &[instance_id])).send().await?;
    Ok(out
        .iam_instance_profile_associations()
        .iter()
        .filter(|a| matches!(a.state().map(|s| s.as_str()), Some("associated" | "associating") | None))
        .find_map(|a| {
            Some(ProfileAssociation {
                id: a.association_id()?.to_owned(),
                arn: a.iam_instance_profile().and_then(|p| p.arn()).unwrap_or_default().to_owned(),
            })
        }))
}

/// Every security group in the region that carries the responder's group tag.
pub async fn responder_groups(ec2: &Client) -> Result<Vec<GroupView>, AwsFailure> {
    describe_groups(ec2, vec![filter(&format!("tag:{}", tags::GROUP_ROLE), &["untrack", "isolation"])]).await
}

/// The VPC a security group belongs to; `None` when the group does not exist.
pub async fn vpc_of_group(ec2: &Client, group_id: &str) -> Result<Option<String>, AwsFailure> {
    let out = absent_on(ec2.describe_security_groups().group_ids(group_id).send().await, &["InvalidGroup.NotFound"])?;
    Ok(out.and_then(|out| out.security_groups().first().and_then(|g| g.vpc_id()).map(str::to_owned)))
}

async fn describe_groups(ec2: &Client, filters: Vec<Filter>) -> Result<Vec<GroupView>, AwsFailure> {
    let mut groups = Vec::new();
    let mut pages = ec2.describe_security_groups().set_filters(Some(filters)).into_paginator().send();
    while let Some(page) = pages.next().await {
        for g in page?.security_groups() {
            let role = match tag_map(g.tags()).get(tags::GROUP_ROLE).map(String::as_str) {
                Some("untrack") => GroupRole::Untrack,
                Some("isolation") => GroupRole::Isolation,
                _ => continue,
            };
            let (Some(id), Some(vpc)) = (g.group_id(), g.vpc_id()) else {
                continue;
            };
            groups.push(GroupView {
                id: id.to_owned(),
                vpc_id: vpc.to_owned(),
                role,
                ingress: g.ip_permissions().to_vec(),
                egress: g.ip_permissions_egress().to_vec(),
            });
        }
    }
    // Oldest id first is not knowable; a stable order keeps twins choosing alike.
    groups.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(groups)
}

/// Snapshots already taken for this finding: (snapshot id, volume id).
pub async fn finding_snapshots(ec2: &Client, finding_id: &str) -> Result<Vec<(String, String)>, AwsFailure> {
    let out = ec2
        .describe_snapshots()
        .owner_ids("self")
        .filters(filter(&format!("tag:{}", tags::FINDING_ID), &[finding_id]))
        .send()
        .await?;
    Ok(out.snapshots().iter().filter_map(|s| Some((s.snapshot_id()?.to_owned(), s.volume_id()?.to_owned()))).collect())
}

pub async fn create_tags(ec2: &Client, resource: &str, pairs: &[(String, String)]) -> Result<(), AwsFailure> {
    create_tags_on(ec2, &[resource.to_owned()], pairs).await
}

/// The same tags on several resources, in one request.
pub async fn create_tags_on(ec2: &Client, resources: &[String], pairs: &[(String, String)]) -> Result<(), AwsFailure> {
    ec2.create_tags().set_resources(Some(resources.to_vec())).set_tags(Some(ec2_tags(pairs))).send().await?;
    Ok(())
}

pub async fn delete_tags(ec2: &Client, resource: &str, keys: &[String]) -> Result<(), AwsFailure> {
    if keys.is_empty() {
        return Ok(());
    }
    let tags = keys.iter().map(|k| Tag::builder().key(k).build()).collect();
    ec2.delete_tags().resources(resource).set_tags(Some(tags)).send().await?;
    Ok(())
}

pub async fn set_eni_groups(ec2: &Client, eni_id: &str, groups: &[String]) -> Result<(), AwsFailure> {
    ec2.modify_network_interface_attribute()
        .network_interface_id(eni_id)
        .set_groups(Some(groups.to_vec()))
        .send()
        .await?;
    Ok(())
}

pub async fn set_termination_protection(ec2: &Client, instance_id: &str, on: bool) -> Result<(), AwsFailure> {
    ec2.modify_instance_attribute()
        .instance_id(instance_id)
        .disable_api_termination(AttributeBooleanValue::builder().value(on).build())
        .send()
        .await?;
    Ok(())
}

pub async fn set_shutdown_behavior(ec2: &Client, instance_id: &str, behavior: &str) -> Result<(), AwsFailure> {
    ec2.modify_instance_attribute()
        .instance_id(instance_id)
        .instance_initiated_shutdown_behavior(AttributeValue::builder().value(behavior).build())
        .send()
        .await?;
    Ok(())
}

/// Sets the instance metadata options quarantine and release change.
pub async fn set_metadata_options(
    ec2: &Client,
    instance_id: &str,
    tokens: &str,
    hop_limit: i32,
) -> Result<(), AwsFailure> {
    ec2.modify_instance_metadata_options()
        .instance_id(instance_id)
        .http_tokens(aws_sdk_ec2::types::HttpTokensState::from(tokens))
        .http_put_response_hop_limit(hop_limit)
        .send()
        .await?;
    Ok(())
}

/// Whether the volume on `device` is deleted when the instance terminates.
pub async fn set_delete_on_termination(
    ec2: &Client,
    instance_id: &str,
    device: &str,
    on: bool,
) -> Result<(), AwsFailure> {
    let mapping = aws_sdk_ec2::types::InstanceBlockDeviceMappingSpecification::builder()
        .device_name(device)
        .ebs(aws_sdk_ec2::types::EbsInstanceBlockDeviceSpecification::builder().delete_on_termination(on).build())
        .build();
    ec2.modify_instance_attribute().instance_id(instance_id).block_device_mappings(mapping).send().await?;
    Ok(())
}

/// Snapshots `volume_id`, tagged with the finding and instance so a repeat
/// delivery finds it instead of taking another.
pub async fn create_snapshot(
    ec2: &Client,
    volume_id: &str,
    instance_id: &str,
    finding_id: &str,
) -> Result<String, AwsFailure> {
    let pairs = [
        (tags::FINDING_ID.to_owned(), finding_id.to_owned()),
        (tags::SOURCE_INSTANCE.to_owned(), instance_id.to_owned()),
        (tags::SOURCE_VOLUME.to_owned(), volume_id.to_owned()),
    ];
    let spec =
        TagSpecification::builder().resource_type(ResourceType::Snapshot).set_tags(Some(ec2_tags(&pairs))).build();
    let out = ec2
        .create_snapshot()
        .volume_id(volume_id)
        .description(format!("guardduty-responder forensic snapshot of {volume_id} on {instance_id}"))
        .tag_specifications(spec)
        .send()
        .await?;
    out.snapshot_id().map(str::to_owned).ok_or_else(|| AwsFailure::rejected("CreateSnapshot returned no snapshot id"))
}

pub async fn disassociate_profile(ec2: &Client, association_id: &str) -> Result<(), AwsFailure> {
    ec2.disassociate_iam_instance_profile().association_id(association_id).send().await?;
    Ok(())
}

pub async fn associate_profile(ec2: &Client, instance_id: &str, arn: &str) -> Result<(), AwsFailure> {
    ec2.associate_iam_instance_profile()
        .instance_id(instance_id)
        .iam_instance_profile(IamInstanceProfileSpecification::builder().arn(arn).build())
        .send()
        .await?;
    Ok(())
}

fn all_traffic(v4: bool, v6: bool) -> IpPermission {
    let mut p = IpPermission::builder().ip_protocol("-1");
    if v4 {
        p = p.ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build());
    }
    if v6 {
        p = p.ipv6_ranges(Ipv6Range::builder().cidr_ipv6("::/0").build());
    }
    p.build()
}

/// Whether `perms` hold an all-traffic rule for 0.0.0.0/0 and for ::/0.
fn allows_all(perms: &[IpPermission]) -> (bool, bool) {
    let all = perms.iter().filter(|p| p.ip_protocol() == Some("-1"));
    let mut v4 = false;
    let mut v6 = false;
    for p in all {
        v4 |= p.ip_ranges().iter().any(|r| r.cidr_ip() == Some("0.0.0.0/0"));
        v6 |= p.ipv6_ranges().iter().any(|r| r.cidr_ipv6() == Some("::/0"));
    }
    (v4, v6)
}

/// The responder's group of `role` in `vpc_id`: the one found by tag, made
/// right if its rules drifted, or created. A concurrent twin creating the
/// same group (`InvalidGroup.Duplicate`) is joined, not fought.
pub async fn ensure_group(
    ec2: &Client,
    vpc_id: &str,
    role: GroupRole,
    found: Option<&GroupView>,
) -> Result<(String, Held), AwsFailure> {
    let (group, created) = match found {
        Some(g) => (g.clone(), false),
        None => (create_group(ec2, vpc_id, role).await?, true),
    };
    // The ingress and egress rules are fixed at once: one round trip.
    let fixed = match role {
        GroupRole::Isolation => {
            let ingress = async {
                if group.ingress.is_empty() {
                    return Ok(false);
                }
                tolerate(
                    ec2.revoke_security_group_ingress()
                        .group_id(&group.id)
                        .set_ip_permissions(Some(group.ingress.clone()))
                        .send()
                        .await
                        .map(drop),
                    "InvalidPermission.NotFound",
                )
                .map(|()| true)
            };
            let egress = async {
                if group.egress.is_empty() {
                    return Ok(false);
                }
                tolerate(
                    ec2.revoke_security_group_egress()
                        .group_id(&group.id)
                        .set_ip_permissions(Some(group.egress.clone()))
                        .send()
                        .await
                        .map(drop),
                    "InvalidPermission.NotFound",
                )
                .map(|()| true)
            };
            let (ingress, egress) = futures::join!(ingress, egress);
            ingress? | egress?
        }
        GroupRole::Untrack => {
            let (in4, in6) = allows_all(&group.ingress);
            let (out4, out6) = allows_all(&group.egress);
            let ingress = async {
                if in4 && in6 {
                    return Ok(false);
                }
                tolerate(
                    ec2.authorize_security_group_ingress()
                        .group_id(&group.id)
                        .ip_permissions(all_traffic(!in4, !in6))
                        .send()
                        .await
                        .map(drop),
                    "InvalidPermission.Duplicate",
                )
                .map(|()| true)
            };
            let egress = async {
                if out4 && out6 {
                    return Ok(false);
                }
                tolerate(
                    ec2.authorize_security_group_egress()
                        .group_id(&group.id)
                        .ip_permissions(all_traffic(!out4, !out6))
                        .send()
                        .await
                        .map(drop),
                    "InvalidPermission.Duplicate",
                )
                .map(|()| true)
            };
            let (ingress, egress) = futures::join!(ingress, egress);
            ingress? | egress?
        }
    };
    let held = match (created, fixed) {
        (true, _) => Held::done(format!("created {} in {vpc_id}", group.id)),
        (false, true) => Held::done(format!("{} existed; its rules had drifted and were reset", group.id)),
        (false, false) => Held::already(format!("{} exists", group.id)),
    };
    Ok((group.id, held))
}

/// Treats one error code as success (the state we wanted is there already).
fn tolerate(result: Result<(), impl Into<AwsFailure>>, code: &str) -> Result<(), AwsFailure> {
    match result.map_err(Into::into) {
        Err(f) if f.is_code(code) => Ok(()),
        other => other,
    }
}

async fn create_group(ec2: &Client, vpc_id: &str, role: GroupRole) -> Result<GroupView, AwsFailure> {
    let name = role.group_name(vpc_id);
    let spec = TagSpecification::builder()
        .resource_type(ResourceType::SecurityGroup)
        .set_tags(Some(ec2_tags(&[
            (tags::GROUP_ROLE.to_owned(), role.tag_value().to_owned()),
            ("Name".to_owned(), name.clone()),
        ])))
        .build();
    let created = ec2
        .create_security_group()
        .group_name(&name)
        .description(role.description())
        .vpc_id(vpc_id)
        .tag_specifications(spec)
        .send()
        .await;
    match created {
        Ok(out) => {
            let id = out
                .group_id()
                .ok_or_else(|| AwsFailure::rejected("CreateSecurityGroup returned no group id"))?
                .to_owned();
            // A new group allows all IPv4 egress and nothing else.
            Ok(GroupView {
                id,
                vpc_id: vpc_id.to_owned(),
                role,
                ingress: Vec::new(),
                egress: vec![all_traffic(true, false)],
            })
        }
        Err(e) => {
            let failure = AwsFailure::from(e);
            if !failure.is_code("InvalidGroup.Duplicate") {
                return Err(failure);
            }
            // A twin created it first: use theirs, as it is now.
            let found = describe_groups(ec2, vec![filter("vpc-id", &[vpc_id]), filter("group-name", &[&name])]).await?;
            let mut group = found
                .into_iter()
                .next()
                .ok_or_else(|| AwsFailure::rejected(format!("{name} exists but is not tagged {}", tags::GROUP_ROLE)))?;
            group.role = role;
            Ok(group)
        }
    }
}

/// Sets an ENI's groups to `groups`, or says it already had exactly them.
pub async fn move_eni(ec2: &Client, eni: &EniView, groups: &[String], what: &str) -> StepResult {
    let mut current = eni.groups.clone();
    current.sort();
    let mut wanted = groups.to_vec();
    wanted.sort();
    if current == wanted {
        return Ok(Held::already(format!("already on {what} {}", groups.join(","))));
    }
    set_eni_groups(ec2, &eni.id, groups).await?;
    Ok(Held::done(format!("{} → {what} {}", eni.groups.join(","), groups.join(","))))
}

/// The instance's quarantine record, read on its own (DescribeTags), for the
/// re-check right before a record is written.
pub async fn instance_record(
    ec2: &Client,
    instance_id: &str,
) -> Result<Option<responder_core::record::InstanceRecord>, AwsFailure> {
    let keys: Vec<String> = std::iter::once(tags::ORIGINAL_STATE.to_owned())
        .chain((2..=8).map(|i| format!("{}:{i}", tags::ORIGINAL_STATE)))
        .collect();
    let out = ec2
        .describe_tags()
        .filters(filter("resource-id", &[instance_id]))
        .filters(Filter::builder().name("key").set_values(Some(keys)).build())
        .send()
        .await?;
    let found: BTreeMap<String, String> = out
        .tags()
        .iter()
        .filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned())))
        .collect();
    Ok(responder_core::record::join_tag(tags::ORIGINAL_STATE, &found).and_then(|text| serde_json::from_str(&text).ok()))
}
