//! Printing replies: aligned tables, or the proto3 JSON mapping of the
//! reply (the same JSON the contracts define), via the descriptor set.

use std::sync::OnceLock;

use prost_reflect::{DescriptorPool, DynamicMessage};

fn pool() -> anyhow::Result<&'static DescriptorPool> {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    if let Some(pool) = POOL.get() {
        return Ok(pool);
    }
    let pool = DescriptorPool::decode(crm_proto::FILE_DESCRIPTOR_SET)?;
    Ok(POOL.get_or_init(|| pool))
}

/// `msg` in the proto3 JSON mapping.
pub fn json<M: prost::Message + prost::Name>(msg: &M) -> anyhow::Result<String> {
    let name = M::full_name();
    let desc = pool()?
        .get_message_by_name(&name)
        .ok_or_else(|| anyhow::anyhow!("{name} is not in the contracts"))?;
    let dynamic = DynamicMessage::decode(desc, msg.encode_to_vec().as_slice())?;
    Ok(serde_json::to_string_pretty(&dynamic)?)
}

/// `rows` under `headers`, each column as wide as its widest cell.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = String>| {
        let padded: Vec<String> = cells.zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        padded.join("  ").trim_end().to_owned()
    };
    let mut out = line(&mut headers.iter().map(|h| (*h).to_owned()));
    for row in rows {
        out.push('\n');
        out.push_str(&line(&mut row.iter().cloned()));
    }
    out
}

/// Money as text, e.g. `12,000.50 EUR`.
pub fn money(m: Option<&crm_proto::common::v1::Money>) -> String {
    m.map_or_else(String::new, |m| {
        let cents = m.nanos / 10_000_000;
        if cents == 0 {
            format!("{} {}", m.units, m.currency_code)
        } else {
            format!("{}.{cents:02} {}", m.units, m.currency_code)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_aligns_its_columns() {
        let t = table(&["a", "bb"], &[vec!["xxx".into(), "y".into()]]);
        assert_eq!(t, "a    bb\nxxx  y");
    }

    #[test]
    fn a_reply_prints_in_the_proto3_json_mapping() {
        let stage = crm_proto::pipeline::v1::Stage {
            name: "Lead".into(),
            rotting_days: 3,
            ..Default::default()
        };
        let text = json(&stage).unwrap();
        assert!(text.contains("\"rottingDays\": 3"), "{text}");
    }
}
