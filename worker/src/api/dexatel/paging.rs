//! Dexatel's paging: `page_size` (1-100, default 20) and an opaque `page_token`
//! in; `{"data": [...], "pagination": {"number", "size", "total", "links":
//! {"first", "current", "previous", "next"}}}` out, the links being paths with
//! the query that fetches that page (`null` where there is no such page).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;

use super::error::{DxError, DxResult};

/// Items per page when `page_size` is absent.
pub(crate) const DEFAULT_PAGE_SIZE: usize = 20;
/// Largest `page_size`.
pub(crate) const MAX_PAGE_SIZE: usize = 100;

/// One requested page: its number (from 1) and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Page {
    pub(crate) number: usize,
    pub(crate) size: usize,
}

/// The token of page `number`.
fn token(number: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("page:{number}"))
}

/// The page number inside a token.
fn parse_token(token: &str) -> Option<usize> {
    let bytes = URL_SAFE_NO_PAD.decode(token.trim()).ok()?;
    let text = std::str::from_utf8(&bytes).ok()?;
    let n: usize = text.strip_prefix("page:")?.parse().ok()?;
    (1..=1_000_000).contains(&n).then_some(n)
}

impl Page {
    /// The page asked for by the `page_size` and `page_token` query values.
    pub(crate) fn parse(size: Option<&str>, page_token: Option<&str>) -> DxResult<Page> {
        let size = match size.map(str::trim).filter(|s| !s.is_empty()) {
            None => DEFAULT_PAGE_SIZE,
            Some(s) => s
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
                .ok_or_else(DxError::page_size_invalid)?,
        };
        let number = match page_token.map(str::trim).filter(|s| !s.is_empty()) {
            None => 1,
            Some(t) => parse_token(t).ok_or_else(DxError::page_token_invalid)?,
        };
        Ok(Page { number, size })
    }

    /// The items of this page.
    pub(crate) fn slice<'a, T>(&self, items: &'a [T]) -> &'a [T] {
        let start = (self.number - 1).saturating_mul(self.size).min(items.len());
        let end = start.saturating_add(self.size).min(items.len());
        &items[start..end]
    }

    /// The `pagination` object for `total` items; `base` is the path and
    /// `query` the other query parameters (already encoded, may be empty).
    pub(crate) fn pagination(&self, total: usize, base: &str, query: &str) -> Pagination {
        let last = total.div_ceil(self.size).max(1);
        let link = |number: usize| {
            let sep = if query.is_empty() { "" } else { "&" };
            format!(
                "{base}?{query}{sep}page_size={}&page_token={}",
                self.size,
                token(number)
            )
        };
        Pagination {
            number: self.number,
            size: self.size,
            total,
            links: Links {
                first: link(1),
                current: link(self.number),
                previous: (self.number > 1).then(|| link((self.number - 1).min(last))),
                next: (self.number < last).then(|| link(self.number + 1)),
            },
        }
    }
}

/// Dexatel's `pagination` object.
#[derive(Debug, Serialize)]
pub(crate) struct Pagination {
    number: usize,
    size: usize,
    total: usize,
    links: Links,
}

#[derive(Debug, Serialize)]
struct Links {
    first: String,
    current: String,
    previous: Option<String>,
    next: Option<String>,
}

/// A list reply: `{"data": [...], "pagination": {...}}`.
#[derive(Debug, Serialize)]
pub(crate) struct Listing<T: Serialize> {
    pub(crate) data: Vec<T>,
    pub(crate) pagination: Pagination,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_limits_of_page_size() {
        assert_eq!(
            Page::parse(None, None).unwrap(),
            Page {
                number: 1,
                size: 20
            }
        );
        assert_eq!(Page::parse(Some("100"), None).unwrap().size, 100);
        for bad in ["0", "101", "-1", "ten", "2.5"] {
            assert_eq!(
                Page::parse(Some(bad), None),
                Err(DxError::page_size_invalid()),
                "{bad}"
            );
        }
    }

    #[test]
    fn tokens_round_trip_and_foreign_tokens_are_refused() {
        assert_eq!(Page::parse(None, Some(&token(3))).unwrap().number, 3);
        for bad in [
            "x",
            "cGFnZTow",
            "cGFnZTphYmM",
            &URL_SAFE_NO_PAD.encode("other:2"),
        ] {
            assert_eq!(
                Page::parse(None, Some(bad)),
                Err(DxError::page_token_invalid()),
                "{bad}"
            );
        }
    }

    #[test]
    fn slices_and_links_follow_the_page() {
        let items: Vec<u32> = (0..5).collect();
        let p = Page { number: 2, size: 2 };
        assert_eq!(p.slice(&items), &[2, 3]);
        assert_eq!(Page { number: 3, size: 2 }.slice(&items), &[4]);
        assert!(Page { number: 9, size: 2 }.slice(&items).is_empty());
        let json = serde_json::to_value(p.pagination(5, "/v1/templates", "")).unwrap();
        assert_eq!(json["number"], 2);
        assert_eq!(json["total"], 5);
        assert_eq!(
            json["links"]["next"],
            format!("/v1/templates?page_size=2&page_token={}", token(3))
        );
        assert_eq!(
            json["links"]["previous"],
            format!("/v1/templates?page_size=2&page_token={}", token(1))
        );
        let last = serde_json::to_value(
            Page {
                number: 1,
                size: 20,
            }
            .pagination(0, "/v", "a=1"),
        )
        .unwrap();
        assert_eq!(last["links"]["next"], serde_json::Value::Null);
        assert_eq!(last["links"]["previous"], serde_json::Value::Null);
        assert_eq!(
            last["links"]["first"],
            format!("/v?a=1&page_size=20&page_token={}", token(1))
        );
    }
}
