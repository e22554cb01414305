//! Text on a person's colour that meets WCAG AA (4.5:1 for normal text).
//!
//! The server's palette has light colours (yellow, cyan, lime) on which
//! white text is unreadable, and middle ones on which neither white nor our
//! ink quite reaches 4.5:1. A name label keeps its person's hue: dark ink
//! where that reads, otherwise white on the colour darkened just enough.
//! Only the label changes; the arrow keeps the exact colour.

/// The ink used on light colours (the page's text colour).
pub const DARK_INK: &str = "#1c2024";

/// WCAG AA for normal-size text.
const AA: f64 = 4.5;

/// The background and text colours of a name label for `color` (`#rrggbb`).
/// Anything that is not `#rrggbb` is left as it is, with white text.
pub fn label_colors(color: &str) -> (String, &'static str) {
    let Some(rgb) = parse_hex(color) else {
        return (color.to_owned(), "#fff");
    };
    let ink = parse_hex(DARK_INK).map_or(0.0, luminance);
    if contrast(luminance(rgb), ink) >= AA {
        return (color.to_owned(), DARK_INK);
    }
    // Darken in small steps until white reads on it (step 0: as it is).
    let mut darker = rgb;
    for step in 0..=20 {
        let keep = 1.0 - f64::from(step) * 0.05;
        darker = rgb.map(|channel| (f64::from(channel) * keep).round() as u8);
        if contrast(1.0, luminance(darker)) >= AA {
            break;
        }
    }
    (to_hex(darker), "#fff")
}

/// The contrast ratio between two relative luminances.
pub fn contrast(first: f64, second: f64) -> f64 {
    let (light, dark) = if first > second {
        (first, second)
    } else {
        (second, first)
    };
    (light + 0.05) / (dark + 0.05)
}

/// WCAG relative luminance of an sRGB colour.
pub fn luminance(rgb: [u8; 3]) -> f64 {
    let linear = |channel: u8| {
        let value = f64::from(channel) / 255.0;
        if value <= 0.04045 {
            value / 12.92
        } else {
            ((value + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * linear(rgb[0]) + 0.7152 * linear(rgb[1]) + 0.0722 * linear(rgb[2])
}

fn parse_hex(color: &str) -> Option<[u8; 3]> {
    let hex = color.strip_prefix('#')?;
    if hex.len() != 6 || !hex.is_ascii() {
        return None;
    }
    let channel = |at: usize| u8::from_str_radix(&hex[at..at + 2], 16).ok();
    Some([channel(0)?, channel(2)?, channel(4)?])
}

fn to_hex(rgb: [u8; 3]) -> String {
    format!("#{:02x}{:02x}{:02x}", rgb[0], rgb[1], rgb[2])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The server's palette (server/src/identity.rs).
    const PALETTE: [&str; 12] = [
        "#e5484d", "#30a46c", "#0090ff", "#f76b15", "#8e4ec6", "#12a594", "#d6409f", "#ffc53d",
        "#3e63dd", "#7ce2fe", "#a18072", "#bdee63",
    ];

    #[test]
    fn every_palette_label_meets_aa() {
        for color in PALETTE {
            let (background, text) = label_colors(color);
            let ratio = contrast(
                luminance(parse_hex(&background).unwrap()),
                luminance(parse_hex(if text == "#fff" { "#ffffff" } else { text }).unwrap()),
            );
            assert!(ratio >= AA, "{color} → {background} / {text}: {ratio:.2}");
        }
    }

    #[test]
    fn light_colours_keep_their_colour_with_dark_ink() {
        assert_eq!(label_colors("#ffc53d"), ("#ffc53d".to_owned(), DARK_INK));
    }

    #[test]
    fn a_dark_colour_is_kept_with_white_text() {
        let (background, text) = label_colors("#3e63dd");
        assert_eq!(text, "#fff");
        assert_eq!(background, "#3e63dd", "already dark enough");
    }

    #[test]
    fn not_a_hex_colour_is_left_alone() {
        assert_eq!(label_colors("red"), ("red".to_owned(), "#fff"));
    }

    #[test]
    fn contrast_of_black_and_white_is_21() {
        assert!((contrast(1.0, 0.0) - 21.0).abs() < 1e-9);
    }
}
