//! Limits every GraphQL request meets before it costs anything: how deeply its text and its JSON nest
//! (the parser and the JSON reader recurse, so a request nested thousands deep would overflow a worker's
//! stack), how many fields it selects once fragments are spread (`__typename` included: the complexity
//! limit does not price it), who may introspect, how long a query may run, and how many mutations a
//! principal may send (a token bucket per account, or per address for anonymous callers, each root field of
//! a mutation taking one token). One schema extension applies them to HTTP and websocket requests alike.

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextPrepareRequest,
};
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet,
};
use async_graphql::{
    Data, ErrorExtensions, Request, Response, ServerError, ServerResult, Value, Variables,
};

use super::{ClientAddress, RequestAuth};
use crate::app::AppState;
use crate::cache::Bucket;
pub use crate::config::Introspection;

/// The limits, from the `graphql` configuration.
#[derive(Debug, Clone, Copy)]
pub struct RequestLimits {
    /// Deepest nesting of brackets, braces and parentheses in a query's text.
    pub max_nesting: usize,
    /// Most fields a query may select, counted with its fragments spread.
    pub max_fields: usize,
    pub introspection: Introspection,
    /// How long a query (a read) may run before it is answered `REQUEST_TIMEOUT`. Mutations are not cut
    /// short: each is one transaction, and a caller told "timed out" could not know whether it committed.
    pub max_query_time: std::time::Duration,
    /// Each principal's bucket of mutations.
    pub mutations: Bucket,
}

/// The limits as applied to one request: whether its operations are all queries, and how many root fields
/// each mutation operation has, are learnt as it is parsed.
struct LimitsOfRequest {
    limits: RequestLimits,
    read_only: AtomicBool,
    /// Per mutation operation of the document (by name; `None` for an anonymous one), its root fields.
    mutations: Mutex<Vec<(Option<String>, u32)>>,
}

/// The mutation operations of a document with the root fields each selects (`__typename` aside), fragments
/// on the mutation type spread. It runs before validation: each fragment is counted once, and one that
/// spreads itself (refused later) counts nothing the second time.
fn mutation_fields(document: &ExecutableDocument) -> Vec<(Option<String>, u32)> {
    fn count<'a>(
        doc: &'a ExecutableDocument,
        set: &'a SelectionSet,
        memo: &mut HashMap<&'a str, u32>,
    ) -> u32 {
        set.items
            .iter()
            .map(|item| match &item.node {
                Selection::Field(field) => u32::from(field.node.name.node != "__typename"),
                Selection::InlineFragment(inline) => {
                    count(doc, &inline.node.selection_set.node, memo)
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    if let Some(known) = memo.get(name) {
                        return *known;
                    }
                    memo.insert(name, 0);
                    let n = doc
                        .fragments
                        .get(name)
                        .map_or(0, |f| count(doc, &f.node.selection_set.node, memo));
                    memo.insert(name, n);
                    n
                }
            })
            .fold(0u32, u32::saturating_add)
    }
    let mut memo = HashMap::new();
    document
        .operations
        .iter()
        .filter(|(_, op)| op.node.ty == OperationType::Mutation)
        .map(|(name, op)| {
            (
                name.map(|n| n.to_string()),
                count(document, &op.node.selection_set.node, &mut memo),
            )
        })
        .collect()
}

/// Whose bucket a request's mutations come from: the signed-in account's, else the client address's.
fn principal_key(auth: Option<&RequestAuth>, address: Option<&ClientAddress>) -> String {
    match (auth, address) {
        (Some(RequestAuth::Caller(caller)), _) => {
            format!("mutations:user:{}", caller.principal.user_id)
        }
        (_, Some(ClientAddress(Some(ip)))) => format!("mutations:address:{ip}"),
        _ => "mutations:anonymous".to_owned(),
    }
}

/// Marks a request that came as an HTTP GET, with the operation it names: only a query may run so.
#[derive(Debug, Clone)]
pub struct OverGet {
    pub operation_name: Option<String>,
}

/// Whether the operation a request selects (by name, or the only one) is a mutation or subscription.
/// An unknown name is left to validation.
fn selects_a_change(document: &ExecutableDocument, name: Option<&str>) -> bool {
    let ty = match (&document.operations, name) {
        (DocumentOperations::Single(op), _) => Some(op.node.ty),
        (DocumentOperations::Multiple(ops), Some(name)) => ops
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .map(|(_, op)| op.node.ty),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.values().next().map(|op| op.node.ty)
        }
        (DocumentOperations::Multiple(_), None) => None,
    };
    ty.is_some_and(|ty| ty != OperationType::Query)
}

fn only_queries(document: &ExecutableDocument) -> bool {
    match &document.operations {
        DocumentOperations::Single(op) => op.node.ty == OperationType::Query,
        DocumentOperations::Multiple(ops) => {
            ops.values().all(|op| op.node.ty == OperationType::Query)
        }
    }
}

/// A parse error's message without the lines of the query it quotes (they may hold whatever the caller
/// typed, a resident's phone among it): `syntax error at 1:35: expected name`.
fn without_source(message: &str) -> String {
    let at = message
        .lines()
        .find_map(|line| line.trim().strip_prefix("-->"))
        .map(str::trim);
    let expected = message
        .lines()
        .filter_map(|line| line.trim().strip_prefix("= "))
        .collect::<Vec<_>>()
        .join("; ");
    match (at, expected.is_empty()) {
        (Some(at), false) => format!("syntax error at {at}: {expected}"),
        (Some(at), true) => format!("syntax error at {at}"),
        (None, _) if message.contains('\n') => "syntax error".to_owned(),
        (None, _) => message.to_owned(),
    }
}

/// The error of a query that ran out of time.
pub fn timed_out(limit: std::time::Duration) -> ServerError {
    let mut error = ServerError::new(
        format!(
            "the query took longer than {} ms; ask for less (a smaller page, a narrower filter)",
            limit.as_millis()
        ),
        None,
    );
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", "REQUEST_TIMEOUT");
    error
}

/// How deeply the brackets, braces and parentheses of a GraphQL document nest, outside strings and
/// comments; counting stops once `max` is passed. Lexical, so it runs before (and instead of) a parser
/// that would recurse as deep.
pub fn graphql_nesting(text: &str, max: usize) -> usize {
    let bytes = text.as_bytes();
    let (mut depth, mut deepest, mut i) = (0usize, 0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    // `\"""` is an escaped triple quote inside a block string.
                    i += if bytes[i..].starts_with(b"\\\"\"\"") {
                        4
                    } else {
                        1
                    };
                }
                i += 2;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'[' | b'{' | b'(' => {
                depth += 1;
                deepest = deepest.max(depth);
                if deepest > max {
                    return deepest;
                }
            }
            b']' | b'}' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    deepest
}

/// How deeply the arrays and objects of a JSON text nest, outside strings; counting stops once `max` is
/// passed.
pub fn json_nesting(bytes: &[u8], max: usize) -> usize {
    let (mut depth, mut deepest, mut i) = (0usize, 0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
                if deepest > max {
                    return deepest;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    deepest
}

/// How deeply a request's variables nest (they arrive already parsed over a websocket).
pub fn value_nesting(value: &Value, max: usize) -> usize {
    // Iterative: the value may be as deep as its JSON reader allowed.
    let mut deepest = 0;
    let mut stack = vec![(value, 0usize)];
    while let Some((value, depth)) = stack.pop() {
        match value {
            Value::List(items) => {
                deepest = deepest.max(depth + 1);
                stack.extend(items.iter().map(|v| (v, depth + 1)));
            }
            Value::Object(fields) => {
                deepest = deepest.max(depth + 1);
                stack.extend(fields.values().map(|v| (v, depth + 1)));
            }
            _ => {}
        }
        if deepest > max {
            return deepest;
        }
    }
    deepest
}

/// The fields a document selects, with every fragment spread where it is used (a fragment used twice
/// counts twice); stops once `max` is passed.
pub fn selected_fields(doc: &ExecutableDocument, max: usize) -> usize {
    fn count(
        doc: &ExecutableDocument,
        set: &SelectionSet,
        memo: &mut HashMap<String, usize>,
        depth: usize,
        max: usize,
    ) -> usize {
        // Fragment cycles are refused by validation; here they only need to end.
        if depth > 64 {
            return max + 1;
        }
        let mut total = 0usize;
        for item in &set.items {
            total = total.saturating_add(match &item.node {
                Selection::Field(field) => {
                    1 + count(doc, &field.node.selection_set.node, memo, depth + 1, max)
                }
                Selection::InlineFragment(inline) => {
                    count(doc, &inline.node.selection_set.node, memo, depth + 1, max)
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    if let Some(known) = memo.get(name) {
                        *known
                    } else if let Some(fragment) = doc.fragments.get(name) {
                        let n = count(doc, &fragment.node.selection_set.node, memo, depth + 1, max);
                        memo.insert(name.to_owned(), n);
                        n
                    } else {
                        0
                    }
                }
            });
            if total > max {
                return total;
            }
        }
        total
    }
    let mut memo = HashMap::new();
    let mut total = 0usize;
    for (_, operation) in doc.operations.iter() {
        total = total.saturating_add(count(
            doc,
            &operation.node.selection_set.node,
            &mut memo,
            0,
            max,
        ));
        if total > max {
            break;
        }
    }
    total
}

/// A GraphQL error with the `QUERY_TOO_COMPLEX` code.
pub fn too_complex(message: impl Into<String>) -> ServerError {
    let mut error = ServerError::new(message, None);
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", "QUERY_TOO_COMPLEX");
    error
}

/// Refuses variables nested deeper than `max`.
pub fn check_variables(variables: &Variables, max: usize) -> ServerResult<()> {
    let deepest = variables
        .values()
        .map(|value| value_nesting(value, max))
        .max()
        .unwrap_or(0);
    if deepest > max {
        return Err(too_complex(format!(
            "the variables nest deeper than {max} levels"
        )));
    }
    Ok(())
}

impl ExtensionFactory for RequestLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(LimitsOfRequest {
            limits: *self,
            read_only: AtomicBool::new(false),
            mutations: Mutex::new(Vec::new()),
        })
    }
}

fn signed_in(data: &Data) -> bool {
    data.get(&TypeId::of::<RequestAuth>())
        .and_then(|auth| auth.downcast_ref::<RequestAuth>())
        .is_some_and(|auth| matches!(auth, RequestAuth::Caller(_)))
}

impl LimitsOfRequest {
    /// Takes a token per root field of the mutation about to run from its principal's bucket.
    async fn take_mutation_tokens(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
    ) -> Result<(), ServerError> {
        let cost = {
            let Ok(mutations) = self.mutations.lock() else {
                return Ok(());
            };
            match operation_name {
                Some(name) => mutations
                    .iter()
                    .find(|(n, _)| n.as_deref() == Some(name))
                    .map_or(0, |(_, fields)| *fields),
                None => mutations.first().map_or(0, |(_, fields)| *fields),
            }
        };
        let Some(state) = ctx.data_opt::<Arc<AppState>>() else {
            return Ok(());
        };
        if cost == 0 {
            return Ok(());
        }
        let key = principal_key(
            ctx.data_opt::<RequestAuth>(),
            ctx.data_opt::<ClientAddress>(),
        );
        state
            .take_limited(
                &key,
                self.limits.mutations,
                cost,
                "too many changes in a short time from this account or address",
            )
            .await
            .map_err(|e| e.extend().into_server_error(Default::default()))
    }
}

#[async_trait::async_trait]
impl Extension for LimitsOfRequest {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        check_variables(&request.variables, self.limits.max_nesting)?;
        // Over HTTP the caller is in the request's data; over a websocket, in the connection's.
        let allowed = match self.limits.introspection {
            Introspection::Everyone => true,
            Introspection::SignedIn => signed_in(&request.data) || signed_in(ctx.session_data),
            Introspection::Nobody => false,
        };
        let request = if allowed {
            request
        } else {
            request.disable_introspection()
        };
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let limits = &self.limits;
        if graphql_nesting(query, limits.max_nesting) > limits.max_nesting {
            return Err(too_complex(format!(
                "the query nests deeper than {} levels",
                limits.max_nesting
            )));
        }
        let document = next.run(ctx, query, variables).await.map_err(|mut error| {
            error.message = without_source(&error.message);
            error
        })?;
        if selected_fields(&document, limits.max_fields) > limits.max_fields {
            return Err(too_complex(format!(
                "the query selects more than {} fields (aliases and __typename included)",
                limits.max_fields
            )));
        }
        if let Some(get) = ctx.data_opt::<OverGet>()
            && selects_a_change(&document, get.operation_name.as_deref())
        {
            let mut error = ServerError::new(
                "a mutation or subscription cannot be sent with GET: POST it (or open a websocket)",
                None,
            );
            error
                .extensions
                .get_or_insert_with(Default::default)
                .set("code", "METHOD_NOT_ALLOWED");
            return Err(error);
        }
        let read_only = only_queries(&document);
        self.read_only.store(read_only, Ordering::Relaxed);
        if !read_only && let Ok(mut mutations) = self.mutations.lock() {
            *mutations = mutation_fields(&document);
        }
        Ok(document)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        if !self.read_only.load(Ordering::Relaxed) {
            if let Err(error) = self.take_mutation_tokens(ctx, operation_name).await {
                return Response::from_errors(vec![error]);
            }
            return next.run(ctx, operation_name).await;
        }
        let limit = self.limits.max_query_time;
        match tokio::time::timeout(limit, next.run(ctx, operation_name)).await {
            Ok(response) => response,
            Err(_) => {
                tracing::warn!(
                    limit_ms = limit.as_millis() as u64,
                    "a query ran out of time"
                );
                Response::from_errors(vec![timed_out(limit)])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_is_counted_outside_strings_and_comments() {
        assert_eq!(graphql_nesting("{ a { b(x: [1, [2]]) } }", 100), 5);
        assert_eq!(graphql_nesting(r#"{ a(s: "[[[[{{{") }"#, 100), 2);
        assert_eq!(graphql_nesting("{ a # [[[[[[\n }", 100), 1);
        assert_eq!(graphql_nesting(r#"{ a(s: """ [[[ \""" [[[ """) }"#, 100), 2);
        assert_eq!(graphql_nesting(r#"{ a(s: "\" [[[") }"#, 100), 2);
        let deep = format!(
            "{{ cases(filter: {{statuses: {}1{} }}) }}",
            "[".repeat(2000),
            "]".repeat(2000)
        );
        assert_eq!(graphql_nesting(&deep, 64), 65);
        assert_eq!(json_nesting(br#"{"a": "[[[[", "b": [[1]]}"#, 100), 3);
        assert_eq!(json_nesting(br#"{"a": "\"[[[["}"#, 100), 1);
        assert_eq!(json_nesting(&[b'['; 5000], 32), 33);
    }

    #[test]
    fn parse_errors_do_not_quote_the_query() {
        let error =
            async_graphql::parser::parse_query("{ searchCases(text: \"13987654321\" { total } }")
                .unwrap_err()
                .to_string();
        assert!(error.contains("13987654321"), "{error}");
        let clean = without_source(&error);
        assert!(!clean.contains("13987654321"), "{clean}");
        assert!(clean.starts_with("syntax error at 1:"), "{clean}");
    }

    #[test]
    fn fields_are_counted_with_fragments_spread() {
        let doc = async_graphql::parser::parse_query(
            "{ a b { c } ...F ...F } fragment F on Q { x: __typename y: __typename }",
        )
        .unwrap();
        assert_eq!(selected_fields(&doc, 100), 7);
        let many = format!(
            "{{ {} }}",
            (0..2000)
                .map(|i| format!("a{i}: __typename"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        let doc = async_graphql::parser::parse_query(&many).unwrap();
        assert_eq!(selected_fields(&doc, 500), 501);
    }

    #[test]
    fn mutations_cost_their_root_fields_with_fragments_spread_once() {
        let doc = async_graphql::parser::parse_query(
            "mutation M { a: signOut b: signOut __typename ...F ... on Mutation { c: signOut } } \
             fragment F on Mutation { d: signOut ...F } query Q { me { id } }",
        )
        .unwrap();
        assert_eq!(mutation_fields(&doc), vec![(Some("M".to_owned()), 4)]);
        // A fragment spreading itself thousands of ways is counted once, not exponentially.
        let wide = format!(
            "mutation {{ ...F }} fragment F on Mutation {{ x: signOut {} }}",
            "...F ".repeat(50)
        );
        let doc = async_graphql::parser::parse_query(&wide).unwrap();
        assert_eq!(mutation_fields(&doc), vec![(None, 1)]);
    }

    #[test]
    fn deep_variables_are_refused() {
        let mut value = Value::Null;
        for _ in 0..100 {
            value = Value::List(vec![value]);
        }
        let variables = Variables::from_value(Value::Object(
            [(async_graphql::Name::new("v"), value)]
                .into_iter()
                .collect(),
        ));
        assert!(check_variables(&variables, 32).is_err());
        assert!(check_variables(&Variables::default(), 32).is_ok());
    }
}
