//! Numbers as text, the way `format!` writes them, without `format!`'s
//! float code.
//!
//! `f64`'s `Display` brings two float-printing algorithms (Grisu and
//! Dragon) and their tables into the wasm, about 10 KB, which the page
//! paid for a few CSS positions and figures. The same text comes from the
//! shortest digits of `zmij` (already in the wasm: serde_json writes floats
//! with it) and from integer arithmetic for a fixed number of decimals.
//! The tests below hold both to `format!` over many values.

/// `value` as `format!("{value}")` writes it: the shortest digits that
/// read back as `value`, without an exponent.
pub fn plain(value: f64) -> String {
    if !value.is_finite() {
        return non_finite(value).to_owned();
    }
    let mut buffer = zmij::Buffer::new();
    let (negative, mut digits, mut point) = decimal_digits(buffer.format_finite(value));
    // Halfway between two shortest candidates, `format!` takes the upper
    // one and zmij the even one.
    if !digits.is_empty() && halfway_above(value, &digits, point) {
        point += round_up(&mut digits);
    }
    let mut text = String::new();
    if negative {
        text.push('-');
    }
    if digits.is_empty() {
        text.push('0');
    } else if point <= 0 {
        text.push_str("0.");
        push_zeros(&mut text, (-point) as usize);
        text.push_str(&digits);
    } else {
        let point = point as usize;
        if point >= digits.len() {
            text.push_str(&digits);
            push_zeros(&mut text, point - digits.len());
        } else {
            text.push_str(&digits[..point]);
            text.push('.');
            text.push_str(&digits[point..]);
        }
    }
    text
}

/// `value` as `format!("{value:.decimals$}")` writes it: rounded to
/// `decimals` places, half to even on the exact binary value, as `format!`
/// does. `decimals` is at most 17.
pub fn fixed(value: f64, decimals: usize) -> String {
    assert!(decimals <= 17, "at most 17 decimals");
    if !value.is_finite() {
        return non_finite(value).to_owned();
    }
    let (mantissa, power) = mantissa_and_power(value);
    let scale = 10u128.pow(decimals as u32);
    // The value × 10^decimals, rounded, in decimal digits.
    let scaled = if power >= 0 {
        let mut limbs = vec![mantissa as u128 * scale];
        for _ in 0..power {
            double(&mut limbs);
        }
        limbs_to_digits(&limbs)
    } else {
        let shift = power.unsigned_abs();
        let numerator = mantissa as u128 * scale;
        // Below 2^-127 of a unit the value is less than half of one.
        let rounded = if shift >= 128 {
            0
        } else {
            let quotient = numerator >> shift;
            let remainder = numerator & ((1u128 << shift) - 1);
            let half = 1u128 << (shift - 1);
            if remainder > half || (remainder == half && quotient % 2 == 1) {
                quotient + 1
            } else {
                quotient
            }
        };
        rounded.to_string()
    };
    let mut text = String::new();
    if value.is_sign_negative() {
        text.push('-');
    }
    if scaled.len() <= decimals {
        text.push('0');
        if decimals > 0 {
            text.push('.');
            push_zeros(&mut text, decimals - scaled.len());
            text.push_str(&scaled);
        }
    } else {
        let point = scaled.len() - decimals;
        text.push_str(&scaled[..point]);
        if decimals > 0 {
            text.push('.');
            text.push_str(&scaled[point..]);
        }
    }
    text
}

/// Whether `value` lies exactly half a unit of the last digit above the
/// decimal `0.digits × 10^point`.
fn halfway_above(value: f64, digits: &str, point: i64) -> bool {
    // At most 17 digits: no overflow.
    let base = digits
        .bytes()
        .fold(0u128, |base, digit| base * 10 + u128::from(digit - b'0'));
    // The halfway point is (10 × digits + 5) × 10^k, an odd number a times
    // 10^k, with k the place after the last digit.
    let a = base * 10 + 5;
    let k = point - digits.len() as i64 - 1;
    let (mantissa, power) = mantissa_and_power(value.abs());
    if mantissa == 0 {
        return false;
    }
    let twos = mantissa.trailing_zeros() as i64;
    let odd = u128::from(mantissa >> twos);
    // mantissa × 2^power = a × 2^k × 5^k: a is odd, so the powers of two
    // must match, and then the odd parts.
    if k >= 0 {
        power + twos == k
            && 5u128
                .checked_pow(k as u32)
                .and_then(|five| a.checked_mul(five))
                == Some(odd)
    } else {
        power + twos - k == 0
            && 5u128
                .checked_pow((-k) as u32)
                .and_then(|five| odd.checked_mul(five))
                == Some(a)
    }
}

/// Adds one to the last digit; returns 1 when that makes one more digit
/// (the decimal point moves), else 0.
fn round_up(digits: &mut String) -> i64 {
    let mut bytes = std::mem::take(digits).into_bytes();
    let mut at = bytes.len();
    while at > 0 && bytes[at - 1] == b'9' {
        at -= 1;
    }
    bytes.truncate(at);
    let grew = if at == 0 {
        bytes.push(b'1');
        1
    } else {
        bytes[at - 1] += 1;
        0
    };
    *digits = String::from_utf8(bytes).unwrap_or_default();
    grew
}

/// `value` = mantissa × 2^power, exactly.
fn mantissa_and_power(value: f64) -> (u64, i64) {
    let bits = value.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i64;
    let fraction = bits & ((1 << 52) - 1);
    if exponent == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1 << 52), exponent - 1075)
    }
}

fn non_finite(value: f64) -> &'static str {
    if value.is_nan() {
        "NaN"
    } else if value > 0.0 {
        "inf"
    } else {
        "-inf"
    }
}

fn push_zeros(text: &mut String, count: usize) {
    text.extend(std::iter::repeat_n('0', count));
}

/// The sign, the significant digits (no leading or trailing zeros) and
/// where the decimal point goes among them, of a number written like
/// `-1.25e-7` (any of the parts may be missing).
fn decimal_digits(text: &str) -> (bool, String, i64) {
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match text.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, exponent.parse::<i64>().unwrap_or(0)),
        None => (text, 0),
    };
    let (whole, part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut point = whole.len() as i64 + exponent;
    let all = [whole, part].concat();
    let trimmed = all.trim_start_matches('0');
    point -= (all.len() - trimmed.len()) as i64;
    (negative, trimmed.trim_end_matches('0').to_owned(), point)
}

/// Doubles a number held in base-10^18 limbs, least significant first.
fn double(limbs: &mut Vec<u128>) {
    const BASE: u128 = 1_000_000_000_000_000_000;
    let mut carry = 0;
    for limb in limbs.iter_mut() {
        let doubled = *limb * 2 + carry;
        *limb = doubled % BASE;
        carry = doubled / BASE;
    }
    if carry > 0 {
        limbs.push(carry);
    }
}

fn limbs_to_digits(limbs: &[u128]) -> String {
    const BASE: u128 = 1_000_000_000_000_000_000;
    // The first limb may start above BASE (it is never normalised until
    // doubled); normalise once.
    let mut normal = Vec::with_capacity(limbs.len() + 2);
    let mut carry = 0;
    for &limb in limbs {
        let sum = limb + carry;
        normal.push(sum % BASE);
        carry = sum / BASE;
    }
    while carry > 0 {
        normal.push(carry % BASE);
        carry /= BASE;
    }
    let mut text = String::new();
    for (index, limb) in normal.iter().rev().enumerate() {
        let digits = limb.to_string();
        if index > 0 {
            push_zeros(&mut text, 18 - digits.len());
        }
        text.push_str(&digits);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A few hundred thousand doubles: random bit patterns (every
    /// magnitude), random values in the ranges the page prints, and
    /// halves, quarters and eighths (the ties of rounding).
    fn samples() -> Vec<f64> {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut values = vec![
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.5,
            1.5,
            2.5,
            -2.5,
            0.125,
            0.375,
            0.05,
            0.15,
            0.25,
            1e21,
            1e22,
            1e-7,
            123456789.0,
            f64::MAX,
            f64::MIN_POSITIVE,
            f64::from_bits(1),
            f64::EPSILON,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1.0 - 1.0 / 977.0,
        ];
        for _ in 0..100_000 {
            values.push(f64::from_bits(next()));
            let unit = (next() >> 11) as f64 / (1u64 << 53) as f64;
            values.push(unit);
            values.push(unit * 100.0);
            values.push(unit * 4000.0 - 1000.0);
            values.push((next() % 100_000) as f64 / 8.0);
            // Halfway between two shortest candidates in the range of
            // percentages (64 + k / 2^15).
            values.push(64.0 + (next() % (1 << 20)) as f64 / 32768.0);
        }
        values
    }

    #[test]
    fn plain_writes_what_format_writes() {
        for value in samples() {
            assert_eq!(plain(value), format!("{value}"), "{value:e}");
        }
    }

    #[test]
    fn fixed_writes_what_format_writes() {
        for (index, value) in samples().into_iter().enumerate() {
            let decimals = index % 4;
            assert_eq!(
                fixed(value, decimals),
                format!("{value:.decimals$}"),
                "{value:e} to {decimals}"
            );
        }
        for decimals in 0..=17 {
            for value in [0.0, -0.0, 0.5, 2.5, 1e-300, 5e-324, 1e300, 0.1, 123.456] {
                assert_eq!(fixed(value, decimals), format!("{value:.decimals$}"));
            }
        }
    }
}
