//! A BR Code drawn as a QR code, as merchants show it: PNG (a `data:` URL in JSON) or SVG.
//! Error correction M (what the BR Code manual recommends for printed and on-screen codes)
//! and a quiet zone of four modules, as the QR standard requires.

use qrcode::{Color, EcLevel, QrCode};

/// Pixels per module in the PNG.
const SCALE: usize = 8;
/// Light modules around the code.
const QUIET_ZONE: usize = 4;

/// Why a code cannot be drawn (longer than a QR code holds at level M).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the BR Code does not fit in a QR code")]
pub struct TooLong;

fn code(text: &str) -> Result<QrCode, TooLong> {
    QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).map_err(|_| TooLong)
}

/// A grayscale PNG of `text`.
pub fn png(text: &str) -> Result<Vec<u8>, TooLong> {
    let qr = code(text)?;
    let modules = qr.width();
    let colors = qr.to_colors();
    let side = (modules + 2 * QUIET_ZONE) * SCALE;
    let mut pixels = vec![255u8; side * side];
    for (i, color) in colors.iter().enumerate() {
        if *color == Color::Dark {
            let (x, y) = (i % modules + QUIET_ZONE, i / modules + QUIET_ZONE);
            for row in y * SCALE..(y + 1) * SCALE {
                pixels[row * side + x * SCALE..row * side + (x + 1) * SCALE].fill(0);
            }
        }
    }
    let mut out = Vec::new();
    let side = u32::try_from(side).map_err(|_| TooLong)?;
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|_| TooLong)?;
    writer.write_image_data(&pixels).map_err(|_| TooLong)?;
    writer.finish().map_err(|_| TooLong)?;
    Ok(out)
}

/// An SVG of `text`.
pub fn svg(text: &str) -> Result<String, TooLong> {
    let qr = code(text)?;
    Ok(qr.render::<qrcode::render::svg::Color<'_>>().quiet_zone(true).min_dimensions(256, 256).build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_br_code_draws_as_a_png_and_an_svg() {
        let code = "00020101021226760014br.gov.bcb.pix2554pix.example.com/qr/v2/8b3da2f39a4140d1a91abd93113bd4415204000053039865802BR5913Fulano de Tal6008BRASILIA62070503***6304ABCD";
        let image = png(code).unwrap();
        assert_eq!(&image[..8], b"\x89PNG\r\n\x1a\n");
        assert!(svg(code).unwrap().contains("<svg"));
        assert!(png(&"x".repeat(5000)).is_err(), "more bytes than a QR code holds");
    }
}
