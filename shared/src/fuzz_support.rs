//! Proptest strategies shared by the "every parser of outside input is total"
//! tests. Plain `any::<String>()` rarely produces the shapes that break a
//! parser (digits that end in a multi-byte character, a combining mark after a
//! separator), so the text strategy mixes fully arbitrary strings with strings
//! assembled from characters that sit on parsers' edges.

use proptest::prelude::*;
use serde_json::Value;

/// Characters that exercise byte/char confusions, trimming, separators and
/// escaping: ASCII digits and punctuation parsers split on, control
/// characters, combining marks, multi-byte letters and emoji, BOM and NUL.
const EDGE_CHARS: &[char] = &[
    '0',
    '1',
    '7',
    '9',
    '-',
    '.',
    ',',
    '=',
    '+',
    '@',
    '"',
    '\'',
    ' ',
    '\t',
    '\r',
    '\n',
    '\0',
    '\u{7f}',
    '\u{1b}',
    '\u{85}',
    '\u{a0}',
    '\u{301}',
    '\u{200b}',
    '\u{200d}',
    '\u{feff}',
    'é',
    'ñ',
    'ß',
    '€',
    '٣',
    '８',
    '😀',
    '👩',
    '\u{1f3fd}',
    '\u{10ffff}',
];

fn edge_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => proptest::sample::select(EDGE_CHARS),
        1 => any::<char>(),
    ]
}

/// Arbitrary Unicode text, including control characters, combining marks,
/// emoji and surrogate-adjacent code points.
pub fn any_text() -> BoxedStrategy<String> {
    prop_oneof![
        any::<String>(),
        proptest::string::string_regex("(?s:.{0,40})").expect("valid regex"),
        proptest::collection::vec(edge_char(), 0..40).prop_map(|v| v.into_iter().collect()),
        // Digits with an arbitrary tail: the shape of `80019726é`.
        (
            "[0-9.\\- ]{0,14}",
            proptest::collection::vec(edge_char(), 0..3)
        )
            .prop_map(|(head, tail)| head + &tail.into_iter().collect::<String>()),
    ]
    .boxed()
}

/// Arbitrary bytes, valid UTF-8 or not.
pub fn any_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

/// Arbitrary JSON numbers, including ones outside `i64`/`u64` and floats.
fn json_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        Just(serde_json::json!(0)),
        Just(serde_json::json!(-1)),
    ]
}

/// Arbitrary JSON trees up to a small depth; object keys are drawn mostly
/// from the member names the provider and API parsers look for, so the
/// parsers get past their first checks.
pub fn json_value(keys: &'static [&'static str]) -> BoxedStrategy<Value> {
    let key: BoxedStrategy<String> = prop_oneof![
        4 => proptest::sample::select(keys).prop_map(str::to_owned),
        1 => any_text(),
    ]
    .boxed();
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        json_number(),
        any_text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
    .boxed()
}
