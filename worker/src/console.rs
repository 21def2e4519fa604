//! The operator console at `/console`: a page of plain ES modules (`console/`)
//! that works only through the admin API, signed in by a session cookie
//! ([`crate::api::admin`], `POST /admin/session`). Like the demo it is made of
//! static assets ([`crate::assets`]): `console.html` at `/console`, and
//! `console/{file}` (its modules and uPlot, the charts' library) at
//! `/console/{file}`; it shares the demo's stylesheet and the npm package's
//! browser build under `/demo/`. The page gets the demo's Content-Security-Policy
//! (computed from its own import map): scripts from this origin only.

use worker::{Env, Method, Request, Response};

use crate::demo;
use crate::error::{ApiError, ApiResult};

/// The asset of the page, served at `/console` and `/console/`.
const PAGE: &str = "console.html";

/// Routes `/console/...`; `segments` is the path split on `/`.
pub(crate) async fn route(req: Request, env: Env, segments: &[&str]) -> ApiResult<Response> {
    let read = matches!(req.method(), Method::Get | Method::Head);
    match segments {
        ["console"] | ["console", ""] if read => demo::page(&req, &env, PAGE).await,
        ["console"] | ["console", ""] => Err(ApiError::method_not_allowed()),
        ["console", rest @ ..] => demo::file(&req, &env, "console", rest, read).await,
        _ => Err(ApiError::not_found()),
    }
}
