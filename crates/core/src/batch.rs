//! Deleting many objects: single deletes N at once, or service batch requests grouped by
//! what one request may span (an endpoint and bucket, an account), every per-key failure
//! reported in one [`Error::Batch`] after all the others were attempted.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;

use futures::{StreamExt, TryStreamExt, stream};

use crate::error::{BatchFailure, Error, Operation, Result};
use crate::store::ObjectStore;

/// Single deletes, `concurrency` at once; every failed key is reported in
/// [`Error::Batch`] after all the others were attempted.
pub async fn delete_each<S: ObjectStore + ?Sized>(
    store: &S,
    uris: &[String],
    concurrency: usize,
) -> Result<()> {
    let results: Vec<(usize, Result<()>)> = stream::iter(0..uris.len())
        .map(|i| async move { (i, store.delete(&uris[i]).await) })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    batch_outcome(Operation::Delete, uris, results)
}

/// Batch deletes: `group(uri)` names the group a key belongs to (keys of one group may
/// share a request) and the group's context; each group is cut into requests of at most
/// `per_request(context)` keys, `concurrency` requests at once. `send(context, indices)`
/// deletes `uris[i]` for each index and returns one outcome per index. A request that
/// fails as a whole fails the call with its error; per-key failures are collected.
pub async fn delete_grouped<K, C, F, Fut>(
    uris: &[String],
    mut group: impl FnMut(&str) -> Result<(K, C)>,
    per_request: impl Fn(&C) -> usize,
    concurrency: usize,
    send: F,
) -> Result<()>
where
    K: Eq + Hash,
    C: Clone,
    F: Fn(C, Vec<usize>) -> Fut,
    Fut: Future<Output = Result<Vec<(usize, Result<()>)>>>,
{
    let mut groups: HashMap<K, (C, Vec<usize>)> = HashMap::new();
    for (i, uri) in uris.iter().enumerate() {
        let (key, context) = group(uri)?;
        groups
            .entry(key)
            .or_insert_with(|| (context, Vec::new()))
            .1
            .push(i);
    }
    let requests: Vec<(C, Vec<usize>)> = groups
        .into_values()
        .flat_map(|(context, keys)| {
            let size = per_request(&context).max(1);
            keys.chunks(size)
                .map(|c| (context.clone(), c.to_vec()))
                .collect::<Vec<_>>()
        })
        .collect();
    let results: Vec<Vec<(usize, Result<()>)>> = stream::iter(requests)
        .map(|(context, keys)| send(context, keys))
        .buffer_unordered(concurrency.max(1))
        .try_collect()
        .await?;
    batch_outcome(Operation::Delete, uris, results.into_iter().flatten().collect())
}

/// Folds per-key results into `Ok` or an [`Error::Batch`] that lists every failure.
pub fn batch_outcome(op: Operation, uris: &[String], results: Vec<(usize, Result<()>)>) -> Result<()> {
    let total = results.len();
    let failures: Vec<BatchFailure> = results
        .into_iter()
        .filter_map(|(i, r)| {
            r.err().map(|error| BatchFailure {
                uri: uris[i].clone(),
                error,
            })
        })
        .collect();
    if failures.is_empty() {
        return Ok(());
    }
    Err(Error::Batch {
        op,
        uri: uris.first().cloned().unwrap_or_default(),
        succeeded: total - failures.len(),
        failures,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[tokio::test]
    async fn groups_are_cut_into_requests_and_failures_are_all_reported() {
        let uris: Vec<String> = (0..7)
            .map(|i| format!("memory://{}/k{i}", if i % 2 == 0 { "even" } else { "odd" }))
            .collect();
        let sent = Mutex::new(Vec::new());
        let bucket = |u: &str| u.split('/').nth(2).unwrap().to_string();
        let e = delete_grouped(
            &uris,
            |u| Ok((bucket(u), bucket(u))),
            |b: &String| if b == "even" { 3 } else { 1 },
            2,
            |b, keys| {
                sent.lock().unwrap().push((b, keys.len()));
                async move {
                    Ok(keys
                        .into_iter()
                        .map(|i| {
                            (
                                i,
                                if i == 5 {
                                    Err(Error::not_found(Operation::Delete, "x"))
                                } else {
                                    Ok(())
                                },
                            )
                        })
                        .collect())
                }
            },
        )
        .await
        .unwrap_err();
        let mut sent = sent.into_inner().unwrap();
        sent.sort();
        // even: k0 k2 k4 k6 in requests of 3 and 1; odd: k1 k3 k5 one each.
        assert_eq!(
            sent.iter()
                .filter(|(b, _)| b == "even")
                .map(|(_, n)| n)
                .sum::<usize>(),
            4
        );
        assert_eq!(sent.iter().filter(|(b, _)| b == "even").count(), 2);
        assert_eq!(sent.iter().filter(|(b, _)| b == "odd").count(), 3);
        match e {
            Error::Batch {
                succeeded, failures, ..
            } => {
                assert_eq!(succeeded, 6);
                assert_eq!(failures.len(), 1);
                assert_eq!(failures[0].uri, uris[5]);
            }
            other => panic!("{other}"),
        }
    }

    #[tokio::test]
    async fn a_bad_uri_fails_before_any_request() {
        let uris = vec!["nope".to_string()];
        let e = delete_grouped(
            &uris,
            |u| Err::<((), ()), _>(Error::invalid_argument(Operation::Delete, u, "bad")),
            |_| 1,
            1,
            |_, _| async { panic!("no request may be sent") },
        )
        .await
        .unwrap_err();
        assert!(e.to_string().contains("nope"));
    }
}
