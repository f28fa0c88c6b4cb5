//! What quarantine records before it changes anything, so `release` can put
//! the instance back exactly. Stored as tags on the resources themselves: the
//! record lives and dies with the evidence, needs no extra service or
//! permission, and a person can read it in the console. Values longer than a
//! tag value holds are continued in numbered tags (`key`, `key:2`, `key:3`…).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Longest tag value EC2 accepts.
pub const MAX_TAG_VALUE: usize = 256;

/// The instance-level state quarantine changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceRecord {
    /// Instance profile ARN associated before quarantine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// `DisableApiTermination` before quarantine.
    pub termination_protection: bool,
    /// `InstanceInitiatedShutdownBehavior` before quarantine.
    pub shutdown_behavior: String,
    /// Auto Scaling group the instance belonged to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_scaling_group: Option<String>,
    /// Instance metadata options before quarantine: `HttpTokens` and the
    /// PUT response hop limit (absent in records of earlier versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<MetadataRecord>,
    /// Devices whose volume was deleted on termination before quarantine
    /// kept them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deleted_on_termination: Vec<String>,
}

/// Where the instance served load balancer traffic before quarantine took it
/// out. Kept apart from [`InstanceRecord`]: membership is read from another
/// service, whose failure must not hold up isolation, so a later delivery
/// may add to this record what an earlier one could not read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadBalancerRecord {
    /// ELBv2 targets that were the instance or one of its addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<TargetRecord>,
    /// Classic load balancers the instance was registered with.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classic: Vec<String>,
}

impl LoadBalancerRecord {
    /// This record with what `live` adds to it; `None` when it adds nothing.
    pub fn with(&self, live: &LoadBalancerRecord) -> Option<LoadBalancerRecord> {
        let mut merged = self.clone();
        merged.targets.extend(live.targets.iter().filter(|t| !self.targets.contains(t)).cloned());
        merged.classic.extend(live.classic.iter().filter(|c| !self.classic.contains(c)).cloned());
        merged.targets.sort();
        merged.classic.sort();
        (merged != *self).then_some(merged)
    }
}

/// One registration in an ELBv2 target group, as `RegisterTargets` takes it back.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TargetRecord {
    /// The target group's ARN.
    pub group: String,
    /// The instance id, or the IP address of an `ip` target.
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    /// `all` for an IP address outside the target group's VPC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
}

/// The instance metadata options quarantine changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataRecord {
    pub http_tokens: String,
    pub hop_limit: i32,
}

/// Splits `value` into tags under `key`, `key:2`, … each at most
/// [`MAX_TAG_VALUE`] characters.
pub fn chunk_tag(key: &str, value: &str) -> Vec<(String, String)> {
    let chars: Vec<char> = value.chars().collect();
    if chars.is_empty() {
        return vec![(key.to_owned(), String::new())];
    }
    chars
        .chunks(MAX_TAG_VALUE)
        .enumerate()
        .map(|(i, chunk)| {
            let k = if i == 0 { key.to_owned() } else { format!("{key}:{}", i + 1) };
            (k, chunk.iter().collect())
        })
        .collect()
}

/// Joins what [`chunk_tag`] split, or `None` when `key` is absent.
pub fn join_tag(key: &str, tags: &BTreeMap<String, String>) -> Option<String> {
    let mut value = tags.get(key)?.clone();
    for i in 2.. {
        match tags.get(&format!("{key}:{i}")) {
            Some(part) => value.push_str(part),
            None => break,
        }
    }
    Some(value)
}

/// The ENI record of an instance's ENIs, written once to all of them in one
/// request: `eni-1=sg-a,sg-b;eni-2=sg-c`, in the order given.
pub fn eni_groups_record<'a>(entries: impl IntoIterator<Item = (&'a str, &'a [String])>) -> String {
    entries.into_iter().map(|(eni, groups)| format!("{eni}={}", groups.join(","))).collect::<Vec<_>>().join(";")
}

/// The groups recorded for `eni` in an ENI record: its entry in a record of
/// [`eni_groups_record`], or the whole value of a record of one ENI
/// (`sg-a,sg-b`, as earlier versions wrote it on each ENI). `None`: the
/// record has no entry for it.
pub fn recorded_eni_groups(eni: &str, record: &str) -> Option<Vec<String>> {
    let split = |groups: &str| groups.split(',').filter(|g| !g.is_empty()).map(str::to_owned).collect();
    if !record.contains('=') {
        return Some(split(record));
    }
    record
        .split(';')
        .find_map(|entry| entry.split_once('=').filter(|(id, _)| *id == eni).map(|(_, groups)| split(groups)))
}

/// Every key [`chunk_tag`] may have written for `key`, present in `tags`.
pub fn chunk_keys(key: &str, tags: &BTreeMap<String, String>) -> Vec<String> {
    let mut keys = Vec::new();
    if tags.contains_key(key) {
        keys.push(key.to_owned());
        for i in 2.. {
            let k = format!("{key}:{i}");
            if !tags.contains_key(&k) {
                break;
            }
            keys.push(k);
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_eni_record_names_each_eni_and_old_single_records_still_read() {
        let a = vec!["sg-1".to_owned(), "sg-2".to_owned()];
        let b = vec!["sg-3".to_owned()];
        let record = super::eni_groups_record([("eni-a", a.as_slice()), ("eni-b", b.as_slice())]);
        assert_eq!(record, "eni-a=sg-1,sg-2;eni-b=sg-3");
        assert_eq!(super::recorded_eni_groups("eni-a", &record), Some(a.clone()));
        assert_eq!(super::recorded_eni_groups("eni-b", &record), Some(b));
        assert_eq!(super::recorded_eni_groups("eni-c", &record), None);
        assert_eq!(super::recorded_eni_groups("eni-c", "sg-1,sg-2"), Some(a));
    }

    use super::*;

    #[test]
    fn long_values_round_trip_through_chunks() {
        let groups: Vec<String> = (0..16).map(|i| format!("sg-0123456789abcde{i:02x}")).collect();
        let value = groups.join(",");
        assert!(value.len() > MAX_TAG_VALUE);
        let chunks = chunk_tag("k", &value);
        assert_eq!(chunks.len(), 2);
        assert!(chunks.iter().all(|(_, v)| v.chars().count() <= MAX_TAG_VALUE));
        let tags: BTreeMap<String, String> = chunks.into_iter().collect();
        assert_eq!(join_tag("k", &tags).as_deref(), Some(value.as_str()));
        assert_eq!(chunk_keys("k", &tags), vec!["k".to_string(), "k:2".to_string()]);
        assert_eq!(join_tag("other", &tags), None);
    }

    #[test]
    fn short_and_empty_values_use_one_tag() {
        assert_eq!(chunk_tag("k", "sg-1"), vec![("k".into(), "sg-1".into())]);
        assert_eq!(chunk_tag("k", ""), vec![("k".into(), "".into())]);
    }
}
