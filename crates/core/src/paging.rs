//! Listings that services hand out a page at a time: one stream shape for every backend,
//! so each implements only "fetch the page after this token".

use std::future::Future;

use futures::stream::{self, BoxStream};
use futures::{StreamExt, TryStreamExt};

use crate::error::Result;
use crate::meta::ListEntry;

/// One page of a listing and the token of the next one (`None` after the last page).
pub type Page<T = ListEntry> = (Vec<T>, Option<String>);

/// The entries of a paged listing as one stream. `fetch(None)` asks for the first page,
/// `fetch(Some(token))` for the page after it; pages are fetched only as the stream is
/// read, so a listing of any size holds one page. The first error ends the stream.
pub fn paged<'a, T, F, Fut>(fetch: F) -> BoxStream<'a, Result<T>>
where
    T: Send + 'a,
    F: FnMut(Option<String>) -> Fut + Send + 'a,
    Fut: Future<Output = Result<Page<T>>> + Send + 'a,
{
    // State: the token of the page to fetch next (`None` inside = the first page), or
    // `None` when the last page was read.
    stream::try_unfold((Some(None), fetch), |(token, mut fetch)| async move {
        let Some(token) = token else { return Ok(None) };
        let (entries, next) = fetch(token).await?;
        let next = next.filter(|t| !t.is_empty()).map(Some);
        Ok(Some((stream::iter(entries.into_iter().map(Ok)), (next, fetch))))
    })
    .try_flatten()
    .boxed()
}

/// A listing that fails before its first page (a malformed prefix).
pub fn failed<'a, T: Send + 'a>(e: crate::Error) -> BoxStream<'a, Result<T>> {
    stream::once(async { Err(e) }).boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Error, Operation};
    use crate::meta::ObjectMeta;

    fn entry(n: usize) -> ListEntry {
        ListEntry::Object(ObjectMeta {
            uri: format!("memory://b/{n}"),
            ..Default::default()
        })
    }

    #[tokio::test]
    async fn pages_follow_their_tokens_in_order() {
        let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = asked.clone();
        let got: Vec<ListEntry> = paged(move |token: Option<String>| {
            log.lock().unwrap().push(token.clone());
            async move {
                Ok(match token.as_deref() {
                    None => (vec![entry(0), entry(1)], Some("t1".into())),
                    Some("t1") => (vec![], Some("t2".into())),
                    Some("t2") => (vec![entry(2)], Some(String::new())),
                    other => panic!("unexpected token {other:?}"),
                })
            }
        })
        .try_collect()
        .await
        .unwrap();
        assert_eq!(got, vec![entry(0), entry(1), entry(2)]);
        let asked = asked.lock().unwrap().clone();
        assert_eq!(
            asked,
            [None, Some("t1".into()), Some("t2".into())],
            "an empty token ends it"
        );
    }

    #[tokio::test]
    async fn an_error_ends_the_stream_after_what_came_before() {
        let mut s = paged(|token: Option<String>| async move {
            match token {
                None => Ok((vec![entry(0)], Some("t".into()))),
                Some(_) => Err(Error::not_found(Operation::List, "memory://b/")),
            }
        });
        assert_eq!(s.next().await.unwrap().unwrap(), entry(0));
        assert!(s.next().await.unwrap().is_err());
        assert!(s.next().await.is_none());
    }
}
