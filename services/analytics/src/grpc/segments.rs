//! A report's filter on a select custom deal field and its group-by,
//! checked against the analytics service's own copy of the tenant's deal
//! fields ([`crate::entity::field`]), and run over a pipeline's history.

use crm_kit::{ApiError, ApiResult, tenant::Tenant, validate::Violations};
use crm_proto::common::v1::{self as common, FieldState, FieldType, field_value::Kind};
use sea_orm::{ColumnTrait, ConnectionTrait, QueryFilter};

use crate::{
    domain::{History, history::Segment},
    entity::field,
};

/// What a request asks of the deals' select values.
#[derive(Clone, Debug, Default)]
pub struct Segments {
    /// Only deals whose field holds one of these options.
    filter: Option<(String, Vec<String>)>,
    /// The field to group by, with its options (id, label) in order.
    group: Option<(String, Vec<(String, String)>)>,
}

/// One group of a grouped report: the option's id, label and numbers.
pub type Group<R> = (String, String, R);

impl Segments {
    /// Parses `filter` and `group_by` against the tenant's deal fields.
    pub async fn parse(
        db: &impl ConnectionTrait,
        tenant: &Tenant,
        filter: Option<&common::FieldFilter>,
        group_by: &str,
    ) -> ApiResult<Self> {
        let mut v = Violations::new();
        let mut s = Self::default();
        if let Some(f) = filter {
            let def = select_field(db, tenant, &mut v, "field_filter.key", &f.key).await?;
            let chosen: Vec<String> = match (&f.equals, f.any_of.is_empty(), f.min.is_some() || f.max.is_some()) {
                (
                    Some(common::FieldValue {
                        kind: Some(Kind::Option(o)),
                    }),
                    true,
                    false,
                ) => vec![o.clone()],
                (None, false, false) => f.any_of.clone(),
                _ => {
                    v.add(
                        "field_filter",
                        "give an `option` in equals, or any_of: reports filter on select fields",
                    );
                    Vec::new()
                }
            };
            if let Some(def) = def {
                let options = def.option_list();
                if let Some(bad) = chosen.iter().find(|c| !options.iter().any(|(id, _)| id == *c)) {
                    v.add("field_filter", format!("{bad:?} is not an option of {}", def.key));
                }
                s.filter = Some((def.key, chosen));
            }
        }
        if !group_by.is_empty()
            && let Some(def) = select_field(db, tenant, &mut v, "group_by_field", group_by).await?
        {
            let options = def.option_list();
            s.group = Some((def.key, options));
        }
        v.finish()?;
        Ok(s)
    }

    /// Whether the request asks for neither.
    pub fn is_plain(&self) -> bool {
        self.filter.is_none() && self.group.is_none()
    }

    /// `run` over the filtered deals, and over those of each group's option.
    pub fn run<R>(&self, h: &History, run: impl Fn(&[Vec<crate::domain::Key>]) -> R) -> (R, Vec<Group<R>>) {
        let mut base: Segment = Vec::new();
        if let Some((key, options)) = &self.filter {
            base.push(h.condition(key, options));
        }
        let all = run(&base);
        let groups = match &self.group {
            None => Vec::new(),
            Some((key, options)) => options
                .iter()
                .map(|(id, label)| {
                    let mut segment = base.clone();
                    segment.push(h.condition(key, std::slice::from_ref(id)));
                    (id.clone(), label.clone(), run(&segment))
                })
                .collect(),
        };
        (all, groups)
    }
}

/// The active select field `key`, or a violation of `at`.
async fn select_field(
    db: &impl ConnectionTrait,
    tenant: &Tenant,
    v: &mut Violations,
    at: &str,
    key: &str,
) -> Result<Option<field::Model>, ApiError> {
    let found = tenant
        .find::<field::Entity>()
        .filter(field::Column::Key.eq(key))
        .one(db)
        .await?;
    let select = [FieldType::SingleSelect as i32, FieldType::MultiSelect as i32];
    match found {
        Some(f) if f.state == FieldState::Active as i32 && select.contains(&f.field_type) => Ok(Some(f)),
        _ => {
            v.add(at, format!("{key:?} is not an active select field of deals"));
            Ok(None)
        }
    }
}
