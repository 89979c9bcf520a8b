//! The report's SQL, built from a [`Scope`]: which orders and exceptions a day touches.

use super::Scope;

impl Scope {
    /// SQL literals for the day's bounds and the provider filter. Inlined rather
    /// than bound because `DECLARE … CURSOR` takes no parameters; both come from
    /// typed values (a timestamp, an enum), so nothing user-written reaches SQL.
    fn literals(&self) -> (String, String, String) {
        let (from, to) = self.bounds();
        let provider = match self.provider {
            Some(p) => format!("'{}'", p.as_str()),
            None => "NULL".to_owned(),
        };
        (
            format!("'{}'::timestamptz", from.to_rfc3339()),
            format!("'{}'::timestamptz", to.to_rfc3339()),
            provider,
        )
    }

    /// `cross_day`: orders created on another day but moved that day, or with
    /// an exception opened or resolved that day (a small set, found without
    /// reading the day's own orders thanks to `order_events.order_created_at`).
    fn cross_day_cte(&self) -> String {
        let (from, to, _) = self.literals();
        format!(
            "cross_day AS (\
               SELECT e.order_id AS id FROM order_events e \
                WHERE e.at >= {from} AND e.at < {to} AND (e.order_created_at < {from} OR e.order_created_at >= {to}) \
               UNION \
               SELECT x.order_id FROM reconciliation_exceptions x JOIN orders o ON o.id = x.order_id \
                WHERE ((x.opened_at >= {from} AND x.opened_at < {to}) OR (x.resolved_at >= {from} AND x.resolved_at < {to})) \
                  AND (o.created_at < {from} OR o.created_at >= {to}))"
        )
    }

    /// `cross_day` plus `picked`: the report's orders (created that day, plus
    /// `cross_day`), for the summary's aggregates.
    pub(super) fn ctes(&self) -> String {
        let (from, to, provider) = self.literals();
        format!(
            "{cross_day}, \
             picked AS (\
               SELECT o.* FROM orders o WHERE o.created_at >= {from} AND o.created_at < {to} \
                 AND ({provider}::text IS NULL OR o.provider = {provider}) \
               UNION ALL \
               SELECT o.* FROM orders o JOIN cross_day c ON c.id = o.id \
                WHERE ({provider}::text IS NULL OR o.provider = {provider}))",
            cross_day = self.cross_day_cte(),
        )
    }

    /// Exceptions with no order that were opened or resolved that day.
    pub(super) fn orphans_where(&self) -> String {
        let (from, to, provider) = self.literals();
        format!(
            "x.order_id IS NULL AND ({provider}::text IS NULL OR x.provider = {provider}) \
             AND ((x.opened_at >= {from} AND x.opened_at < {to}) OR (x.resolved_at >= {from} AND x.resolved_at < {to}))"
        )
    }

    /// Every row of the report, oldest first (by order creation; an exception
    /// without an order by its opening), with the columns [`super::ReportRow`] reads.
    pub fn rows_sql(&self) -> String {
        self.rows_select("*")
    }

    /// The report's rows projected through `projection` (over the columns of
    /// [`Scope::rows_sql`], as `r`), in the same order. The day's orders stream
    /// straight from the `created_at` index (no sort of the whole day), merged
    /// with the few cross-day orders (fetched by primary key: the planner
    /// cannot estimate how few there are, and used to hash-join them against a
    /// sequential scan of every order) and orphan exceptions. Exceptions are
    /// looked up only for orders flagged as having some, by sub-queries the
    /// `CASE` skips for the others (a lateral join ran an aggregate per row).
    pub(super) fn rows_select(&self, projection: &str) -> String {
        let (from, to, provider) = self.literals();
        let columns = "o.reference, o.provider, o.provider_payment_id, o.pse_cus, o.bank_code, \
             o.amount_minor AS order_amount, o.provider_amount_minor AS provider_amount, o.currency, \
             o.state AS order_state, o.provider_status, o.last_webhook_at AS webhook_received_at, \
             o.last_checked_at, \
             CASE WHEN o.has_exceptions THEN (SELECT \
               string_agg(e.kind || CASE WHEN e.resolved_at IS NULL THEN '' ELSE ' (resolved)' END, '; ' ORDER BY e.id) \
               FROM reconciliation_exceptions e WHERE e.order_id = o.id) END AS exception, \
             CASE WHEN o.has_exceptions THEN (SELECT string_agg(e.detail, ' | ' ORDER BY e.id) \
               FROM reconciliation_exceptions e WHERE e.order_id = o.id) END AS detail, \
             o.created_at AS sort_at, o.id AS sort_id";
        format!(
            "WITH {ctes} \
             SELECT {projection} FROM (\
               (SELECT {columns} FROM orders o \
                 WHERE o.created_at >= {from} AND o.created_at < {to} \
                   AND ({provider}::text IS NULL OR o.provider = {provider}) \
                 ORDER BY o.created_at, o.id) \
               UNION ALL \
               (SELECT {columns} FROM orders o \
                 WHERE o.id = ANY(ARRAY(SELECT id FROM cross_day)) \
                   AND ({provider}::text IS NULL OR o.provider = {provider}) \
                 ORDER BY o.created_at, o.id) \
               UNION ALL \
               (SELECT NULL, x.provider, x.provider_payment_id, NULL, NULL, NULL, x.provider_amount_minor, x.currency, \
                       NULL, NULL, NULL, NULL, \
                       x.kind || CASE WHEN x.resolved_at IS NULL THEN '' ELSE ' (resolved)' END, x.detail, \
                       x.opened_at, NULL::uuid \
                  FROM reconciliation_exceptions x WHERE {orphans} ORDER BY x.opened_at)) r \
             ORDER BY sort_at, sort_id",
            ctes = self.cross_day_cte(),
            orphans = self.orphans_where(),
        )
    }
}
