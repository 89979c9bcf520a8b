use super::wire::unquote;
use super::*;
use crate::fuzz_support::{any_bytes, any_text, json_value};
use proptest::prelude::*;

#[test]
fn mono_integer_centavos() {
    assert_eq!(parse_minor_units("10000000"), Ok(10_000_000));
    assert_eq!(parse_minor_units("0"), Ok(0));
    assert_eq!(parse_minor_units("100.5"), Err(AmountError::NotInteger));
    assert_eq!(parse_minor_units("100.0"), Err(AmountError::NotInteger));
    assert_eq!(parse_minor_units("1e7"), Err(AmountError::NotInteger));
    assert_eq!(parse_minor_units("\"100\""), Err(AmountError::NotInteger));
    assert_eq!(parse_minor_units("-5"), Err(AmountError::Negative));
    assert_eq!(
        parse_minor_units("9223372036854775808"),
        Err(AmountError::Overflow)
    );
    assert_eq!(parse_minor_units(""), Err(AmountError::NotInteger));
}

#[test]
fn belvo_whole_pesos() {
    assert_eq!(parse_whole_pesos("350000"), Ok(35_000_000));
    assert_eq!(parse_whole_pesos("\"350000\""), Ok(35_000_000));
    assert_eq!(parse_whole_pesos("\"350000.00\""), Ok(35_000_000));
    assert_eq!(parse_whole_pesos("1000"), Ok(100_000));
    assert_eq!(
        parse_whole_pesos("\"350000.50\""),
        Err(AmountError::NotWholePesos)
    );
    assert_eq!(
        parse_whole_pesos("350000."),
        Err(AmountError::NotWholePesos)
    );
    assert_eq!(parse_whole_pesos("3.5e5"), Err(AmountError::NotWholePesos));
    assert_eq!(parse_whole_pesos("\"-1\""), Err(AmountError::Negative));
    assert_eq!(
        parse_whole_pesos("92233720368547759"),
        Err(AmountError::Overflow)
    );
    assert_eq!(parse_whole_pesos("null"), Err(AmountError::NotWholePesos));
}

#[test]
fn tpaga_decimal_pesos() {
    assert_eq!(parse_decimal_pesos("\"10000.00\""), Ok(1_000_000));
    assert_eq!(parse_decimal_pesos("10000.00"), Ok(1_000_000));
    assert_eq!(parse_decimal_pesos("\"9999.99\""), Ok(999_999));
    assert_eq!(parse_decimal_pesos("\"10000.0\""), Ok(1_000_000));
    assert_eq!(parse_decimal_pesos("\"10000.5\""), Ok(1_000_050));
    assert_eq!(parse_decimal_pesos("\"10000\""), Ok(1_000_000));
    assert_eq!(parse_decimal_pesos("\"0.01\""), Ok(1));
    assert_eq!(
        parse_decimal_pesos("\"10000.001\""),
        Err(AmountError::NotDecimalPesos)
    );
    assert_eq!(
        parse_decimal_pesos("\"1e4\""),
        Err(AmountError::NotDecimalPesos)
    );
    assert_eq!(
        parse_decimal_pesos("\".5\""),
        Err(AmountError::NotDecimalPesos)
    );
    assert_eq!(
        parse_decimal_pesos("\"5.\""),
        Err(AmountError::NotDecimalPesos)
    );
    assert_eq!(
        parse_decimal_pesos("\" 5\""),
        Err(AmountError::NotDecimalPesos)
    );
    assert_eq!(parse_decimal_pesos("\"-5.00\""), Err(AmountError::Negative));
    assert_eq!(
        parse_decimal_pesos("\"\""),
        Err(AmountError::NotDecimalPesos)
    );
}

#[test]
fn money_rejects_negative_and_formats() {
    assert_eq!(Money::cop(-1), Err(AmountError::Negative));
    let m = Money::cop(10_000_000).unwrap();
    assert_eq!(m.display_major(), "COP 100,000.00");
    assert_eq!(format_major(-123_456, Currency::Cop), "COP -1,234.56");
    assert_eq!(format_major(5, Currency::Cop), "COP 0.05");
    assert_eq!("COP".parse::<Currency>(), Ok(Currency::Cop));
    assert!("USD".parse::<Currency>().is_err());
    assert!("cop".parse::<Currency>().is_err());
}

#[test]
fn order_amount_bounds() {
    let l = AmountLimits::ORDER;
    assert!(l.money(1, Currency::Cop).is_ok());
    assert!(l.money(10_000_000_000_000, Currency::Cop).is_ok());
    for bad in [0, -1, 10_000_000_000_001, i64::MAX, i64::MIN] {
        assert_eq!(
            l.money(bad, Currency::Cop),
            Err(AmountError::OutOfRange {
                min: 1,
                max: 10_000_000_000_000
            }),
            "{bad}"
        );
    }
    let narrow = AmountLimits {
        min_minor: 100_000,
        max_minor: 4_000_000_000,
    };
    assert_eq!(l.narrowed(narrow), narrow);
    assert_eq!(narrow.narrowed(l), narrow);
}

#[test]
fn sums_beyond_i64_format() {
    let two_max = 2 * i128::from(i64::MAX);
    assert_eq!(
        format_major(two_max, Currency::Cop),
        "COP 184,467,440,737,095,516.14"
    );
    assert_eq!(
        format_major(i64::MIN, Currency::Cop),
        "COP -92,233,720,368,547,758.08"
    );
}

#[test]
fn raw_amount_keeps_the_token() {
    #[derive(Deserialize)]
    struct W {
        amount: RawAmount,
    }
    let w: W = serde_json::from_str(r#"{"amount": 100.50}"#).unwrap();
    assert_eq!(w.amount.text(), "100.50");
    let w: W = serde_json::from_str(r#"{"amount": "350000"}"#).unwrap();
    assert_eq!(w.amount.text(), "\"350000\"");
}

proptest! {
    #[test]
    fn minor_units_round_trip(v in 0i64..=i64::MAX) {
        prop_assert_eq!(parse_minor_units(&v.to_string()), Ok(v));
    }

    #[test]
    fn whole_pesos_is_times_100(v in 0i64..=(i64::MAX / 100)) {
        prop_assert_eq!(parse_whole_pesos(&v.to_string()), Ok(v * 100));
        prop_assert_eq!(parse_whole_pesos(&format!("\"{v}\"")), Ok(v * 100));
    }

    #[test]
    fn decimal_pesos_round_trip(minor in 0i64..=(i64::MAX / 100)) {
        let text = format!("\"{}.{:02}\"", minor / 100, minor % 100);
        prop_assert_eq!(parse_decimal_pesos(&text), Ok(minor));
    }

    #[test]
    fn three_decimals_never_parse(pesos in 0u32.., frac in 0u32..1000) {
        let text = format!("\"{pesos}.{frac:03}\"");
        prop_assert!(parse_decimal_pesos(&text).is_err());
    }

    #[test]
    fn parsers_never_panic(s in "\\PC*") {
        let _ = parse_minor_units(&s);
        let _ = parse_whole_pesos(&s);
        let _ = parse_decimal_pesos(&s);
    }

    #[test]
    fn parsers_are_total_on_any_text(s in any_text()) {
        for v in [parse_minor_units(&s), parse_whole_pesos(&s), parse_decimal_pesos(&s)]
            .into_iter()
            .flatten()
        {
            prop_assert!(v >= 0);
        }
        let _ = s.parse::<Currency>();
    }

    #[test]
    fn parsers_are_total_on_any_bytes(bytes in any_bytes(64)) {
        let s = String::from_utf8_lossy(&bytes);
        let _ = parse_minor_units(&s);
        let _ = parse_whole_pesos(&s);
        let _ = parse_decimal_pesos(&s);
    }

    /// `RawAmount` is fed whatever JSON a provider sends; its text then
    /// goes through every amount parser.
    #[test]
    fn raw_amount_from_any_json(v in json_value(&["amount"])) {
        let body = serde_json::json!({ "amount": v }).to_string();
        #[derive(Deserialize)]
        struct W {
            amount: RawAmount,
        }
        if let Ok(w) = serde_json::from_str::<W>(&body) {
            let _ = parse_minor_units(w.amount.text());
            let _ = parse_whole_pesos(w.amount.text());
            let _ = parse_decimal_pesos(w.amount.text());
        }
    }

    #[test]
    fn raw_amount_from_any_bytes(bytes in any_bytes(64)) {
        if let Ok(a) = serde_json::from_slice::<RawAmount>(&bytes) {
            let _ = parse_minor_units(a.text());
            let _ = parse_decimal_pesos(a.text());
        }
    }

    #[test]
    fn order_limits_hold(minor in any::<i64>()) {
        match AmountLimits::ORDER.money(minor, Currency::Cop) {
            Ok(m) => prop_assert!((1..=10_000_000_000_000).contains(&m.minor_units())),
            Err(e) => prop_assert!(!(1..=10_000_000_000_000).contains(&minor), "{e}"),
        }
    }

    #[test]
    fn format_major_never_panics(minor in any::<i128>()) {
        prop_assert!(format_major(minor, Currency::Cop).starts_with("COP "));
    }

    #[test]
    fn any_accepted_amount_is_exact(s in "[-0-9.\"e]{0,24}") {
        // Whatever a parser accepts must print back to the same number.
        if let Ok(v) = parse_decimal_pesos(&s) {
            let text = unquote(&s);
            let (i, f) = text.split_once('.').unwrap_or((text, ""));
            let expected = i.parse::<i128>().unwrap() * 100
                + format!("{f:0<2}").parse::<i128>().unwrap();
            prop_assert_eq!(i128::from(v), expected);
        }
        if let Ok(v) = parse_minor_units(&s) {
            prop_assert_eq!(i128::from(v), s.parse::<i128>().unwrap());
        }
    }
}

#[test]
fn cop_is_formatted_colombian_style() {
    assert_eq!(format_cop(0), "$ 0");
    assert_eq!(format_cop(5), "$ 0,05");
    assert_eq!(format_cop(150), "$ 1,50");
    assert_eq!(format_cop(4_590_000), "$ 45.900");
    assert_eq!(format_cop(31_000_000), "$ 310.000");
    assert_eq!(format_cop(123_456_750), "$ 1.234.567,50");
    assert_eq!(format_cop(100_000_000_000_i64), "$ 1.000.000.000");
    assert_eq!(format_cop(-150), "-$ 1,50");
    assert_eq!(format_cop(-123_456_700), "-$ 1.234.567");
    assert_eq!(
        format_cop(i128::MIN),
        "-$ 1.701.411.834.604.692.317.316.873.037.158.841.057,28"
    );
}

proptest::proptest! {
    #[test]
    fn format_cop_never_panics(minor in proptest::prelude::any::<i128>()) {
        let s = format_cop(minor);
        proptest::prop_assert!(s.starts_with("$ ") || s.starts_with("-$ "));
    }
}
