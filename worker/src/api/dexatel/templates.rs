//! Templates: `GET`/`POST /v1/templates`, `GET`/`PUT`/`DELETE /v1/templates/{id}`.
//!
//! A template is a text with the `{code}` keyword (the core's other PIN
//! placeholders, `{{pin}}` and friends, work too), at most 1000 characters, for a
//! channel (SMS, VIBER or WHATSAPP; verifications use SMS templates only), with an
//! optional name unique in the application (at most 45 characters). An
//! application keeps at most 100, all in one KV value `dxtemplates:{appId}`.

use otp_core::rng::OsRandom;
use otp_core::template::{has_pin_placeholder, hidden_char, TextKind, MAX_TEMPLATE_CHARS};
use otp_core::time::{format_utc, UnixSeconds};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use worker::kv::KvStore;
use worker::Response;

use super::error::{DxError, DxResult};
use super::paging::{Listing, Page};
use super::{data_object, field, reply, AppItems, Channel, Data};
use crate::apps::AppRecord;

/// Most templates an application may keep.
pub(crate) const MAX_TEMPLATES: usize = 100;
/// Longest template name, in characters.
pub(crate) const MAX_NAME_CHARS: usize = 45;

/// KV key prefix: `dxtemplates:{appId}`.
pub(super) const PREFIX: &str = "dxtemplates";

/// One stored template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Template {
    pub(crate) id: String,
    pub(crate) name: Option<String>,
    pub(crate) text: String,
    pub(crate) channel: Channel,
    pub(crate) created_at: UnixSeconds,
    pub(crate) updated_at: UnixSeconds,
}

/// A template as the API shows it.
#[derive(Debug, Serialize)]
struct TemplateView<'a> {
    id: &'a str,
    account_id: &'a str,
    name: Option<&'a str>,
    text: &'a str,
    channel: Channel,
    status: &'static str,
    create_date: String,
    update_date: String,
}

impl Template {
    fn view<'a>(&'a self, app_id: &'a str) -> TemplateView<'a> {
        TemplateView {
            id: &self.id,
            account_id: app_id,
            name: self.name.as_deref(),
            text: &self.text,
            channel: self.channel,
            status: "ACTIVE",
            create_date: format_utc(self.created_at),
            update_date: format_utc(self.updated_at),
        }
    }
}

/// The templates of applications, in KV.
pub(crate) struct TemplateStore<'a> {
    items: AppItems<'a>,
}

impl<'a> TemplateStore<'a> {
    /// The store over `kv`.
    pub(crate) fn new(kv: &'a KvStore) -> Self {
        TemplateStore {
            items: AppItems::new(kv, PREFIX),
        }
    }

    /// Every template of the application, oldest first.
    pub(crate) async fn all(&self, app_id: &str) -> DxResult<Vec<Template>> {
        self.items.load(app_id).await
    }

    /// The template `id` of the application, if any.
    pub(crate) async fn get(&self, app_id: &str, id: &str) -> DxResult<Option<Template>> {
        if !otp_core::id::is_uuid(id) {
            return Ok(None);
        }
        Ok(self.all(app_id).await?.into_iter().find(|t| t.id == id))
    }

    async fn save(&self, app_id: &str, templates: &[Template]) -> DxResult<()> {
        self.items.save(app_id, templates).await
    }
}

/// A template name: trimmed, 1-45 characters, no control, invisible or
/// direction-changing character.
fn name_input(value: Option<&Value>) -> DxResult<Option<String>> {
    match value {
        None => Ok(None),
        Some(Value::String(s)) => {
            let name = s.trim();
            if name.is_empty() || hidden_char(name, TextKind::Name).is_some() {
                return Err(DxError::template_name_invalid());
            }
            if name.chars().count() > MAX_NAME_CHARS {
                return Err(DxError::template_name_too_long());
            }
            Ok(Some(name.to_owned()))
        }
        Some(_) => Err(DxError::template_name_invalid()),
    }
}

/// A template text: not blank, at most 1000 characters, with `{code}`, and no
/// invisible or direction-changing character that its script does not need
/// (`otp_core::template::hidden_char`: 1255).
fn text_input(value: Option<&Value>) -> DxResult<String> {
    let text = match value {
        None => return Err(DxError::template_text_missing()),
        Some(Value::String(s)) => s,
        Some(_) => return Err(DxError::template_text_invalid()),
    };
    if text.trim().is_empty() {
        return Err(DxError::template_text_missing());
    }
    if text.chars().nth(MAX_TEMPLATE_CHARS).is_some() {
        return Err(DxError::template_text_too_long());
    }
    if !has_pin_placeholder(text) {
        return Err(DxError::template_no_code());
    }
    if hidden_char(text, TextKind::Template).is_some() {
        return Err(DxError::template_text_invalid());
    }
    Ok(text.clone())
}

fn channel_input(value: Option<&Value>) -> DxResult<Channel> {
    match value {
        None => Err(DxError::template_channel_missing()),
        Some(Value::String(s)) => Channel::parse(s).ok_or_else(DxError::template_channel_invalid),
        Some(_) => Err(DxError::template_channel_invalid()),
    }
}

fn ensure_unique(templates: &[Template], name: Option<&str>, except: &str) -> DxResult<()> {
    match name {
        Some(n)
            if templates
                .iter()
                .any(|t| t.id != except && t.name.as_deref() == Some(n)) =>
        {
            Err(DxError::template_name_taken())
        }
        _ => Ok(()),
    }
}

/// `GET /v1/templates`.
pub(crate) async fn list(
    store: &TemplateStore<'_>,
    app: &AppRecord,
    page: Page,
) -> DxResult<Response> {
    let templates = store.all(&app.app_id).await?;
    let data = page
        .slice(&templates)
        .iter()
        .map(|t| t.view(&app.app_id))
        .collect();
    reply(
        &Listing {
            data,
            pagination: page.pagination(templates.len(), "/v1/templates", ""),
        },
        200,
    )
}

/// `POST /v1/templates`.
pub(crate) async fn create(
    store: &TemplateStore<'_>,
    app: &AppRecord,
    body: &Value,
    now: UnixSeconds,
) -> DxResult<Response> {
    let data = data_object(body).ok_or_else(DxError::template_data_missing)?;
    let name = name_input(field(data, "name"))?;
    let text = text_input(field(data, "text"))?;
    let channel = channel_input(field(data, "channel"))?;
    let mut templates = store.all(&app.app_id).await?;
    ensure_unique(&templates, name.as_deref(), "")?;
    if templates.len() >= MAX_TEMPLATES {
        return Err(DxError::too_many_templates());
    }
    let template = Template {
        id: otp_core::id::new_uuid_v4(&mut OsRandom),
        name,
        text,
        channel,
        created_at: now,
        updated_at: now,
    };
    templates.push(template.clone());
    store.save(&app.app_id, &templates).await?;
    reply(&Data(template.view(&app.app_id)), 201)
}

/// `GET /v1/templates/{id}`.
pub(crate) async fn get(
    store: &TemplateStore<'_>,
    app: &AppRecord,
    id: &str,
) -> DxResult<Response> {
    let template = store
        .get(&app.app_id, id)
        .await?
        .ok_or_else(DxError::template_not_found)?;
    reply(&Data(template.view(&app.app_id)), 200)
}

/// `PUT /v1/templates/{id}`: changes `name` and/or `text` (and `channel` if given).
pub(crate) async fn update(
    store: &TemplateStore<'_>,
    app: &AppRecord,
    id: &str,
    body: &Value,
    now: UnixSeconds,
) -> DxResult<Response> {
    let mut templates = store.all(&app.app_id).await?;
    let index = templates
        .iter()
        .position(|t| t.id == id)
        .ok_or_else(DxError::template_not_found)?;
    let data = data_object(body).ok_or_else(DxError::template_data_missing)?;
    let name = name_input(field(data, "name"))?;
    let text = field(data, "text")
        .map(|t| text_input(Some(t)))
        .transpose()?;
    let channel = field(data, "channel")
        .map(|c| channel_input(Some(c)))
        .transpose()?;
    ensure_unique(&templates, name.as_deref(), id)?;
    let template = &mut templates[index];
    if let Some(name) = name {
        template.name = Some(name);
    }
    if let Some(text) = text {
        template.text = text;
    }
    if let Some(channel) = channel {
        template.channel = channel;
    }
    template.updated_at = now;
    let updated = template.clone();
    store.save(&app.app_id, &templates).await?;
    reply(&Data(updated.view(&app.app_id)), 200)
}

/// `DELETE /v1/templates/{id}`: 204 with no body.
pub(crate) async fn delete(
    store: &TemplateStore<'_>,
    app: &AppRecord,
    id: &str,
) -> DxResult<Response> {
    let mut templates = store.all(&app.app_id).await?;
    let before = templates.len();
    templates.retain(|t| t.id != id);
    if templates.len() == before {
        return Err(DxError::template_not_found());
    }
    store.save(&app.app_id, &templates).await?;
    Ok(Response::empty()
        .map_err(|_| DxError::from(crate::error::ApiError::internal()))?
        .with_status(204))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn texts_need_the_code_keyword_and_at_most_1000_characters() {
        let text = |v: Value| text_input(Some(&v));
        assert_eq!(text(json!("Code: {code}")).unwrap(), "Code: {code}");
        assert!(text(json!("Code: {{pin}}")).is_ok());
        assert_eq!(text(json!("Code: 1234")), Err(DxError::template_no_code()));
        assert_eq!(text(json!("  ")), Err(DxError::template_text_missing()));
        assert_eq!(text_input(None), Err(DxError::template_text_missing()));
        assert_eq!(text(json!(12)), Err(DxError::template_text_invalid()));
        let long = format!("{{code}}{}", "x".repeat(994));
        assert!(text(json!(long)).is_ok(), "exactly 1000 characters");
        assert_eq!(
            text(json!(format!("{long}x"))),
            Err(DxError::template_text_too_long())
        );
    }

    #[test]
    fn texts_keep_only_the_invisible_characters_their_script_needs() {
        let text = |v: &str| text_input(Some(&json!(v)));
        assert!(
            text("کد شما {code} می\u{200C}خواهم").is_ok(),
            "Persian ZWNJ"
        );
        for bad in [
            "Code {code}\u{202E}",
            "Co\u{200B}de {code}",
            "\u{200E}Code {code}",
        ] {
            assert_eq!(text(bad), Err(DxError::template_text_invalid()), "{bad:?}");
        }
        let name = |v: &str| name_input(Some(&json!(v)));
        for bad in ["Log\u{202E}in", "Login\u{FEFF}", "\u{200D}Login"] {
            assert_eq!(name(bad), Err(DxError::template_name_invalid()), "{bad:?}");
        }
    }

    #[test]
    fn names_are_optional_trimmed_and_short() {
        let name = |v: Value| name_input(Some(&v));
        assert_eq!(name_input(None).unwrap(), None);
        assert_eq!(name(json!(" Login ")).unwrap().as_deref(), Some("Login"));
        assert_eq!(name(json!("")), Err(DxError::template_name_invalid()));
        assert_eq!(name(json!("a\nb")), Err(DxError::template_name_invalid()));
        assert_eq!(name(json!(5)), Err(DxError::template_name_invalid()));
        assert!(name(json!("x".repeat(45))).is_ok());
        assert_eq!(
            name(json!("x".repeat(46))),
            Err(DxError::template_name_too_long())
        );
    }

    #[test]
    fn channels_are_required_and_known() {
        assert_eq!(
            channel_input(None),
            Err(DxError::template_channel_missing())
        );
        assert_eq!(channel_input(Some(&json!("sms"))), Ok(Channel::Sms));
        assert_eq!(channel_input(Some(&json!("VIBER"))), Ok(Channel::Viber));
        assert_eq!(
            channel_input(Some(&json!("TELEGRAM"))),
            Err(DxError::template_channel_invalid())
        );
    }
}
