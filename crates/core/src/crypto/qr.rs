//! QR codes rendered as PNG data URLs, without an image library.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use qrcode::{Color, QrCode};

use crate::error::{CoreError, CoreResult};

/// A black-on-white PNG of `data` (4-module quiet zone, `scale` pixels a module), as a data URL.
pub fn png_data_url(data: &str, scale: u32) -> CoreResult<String> {
    let code = QrCode::new(data.as_bytes()).map_err(CoreError::internal)?;
    let width = code.width() as u32;
    let quiet = 4;
    let size = (width + 2 * quiet) * scale;
    let colors = code.to_colors();
    let mut pixels = vec![255u8; (size * size) as usize];
    for y in 0..width {
        for x in 0..width {
            if colors[(y * width + x) as usize] == Color::Dark {
                for dy in 0..scale {
                    let row = ((y + quiet) * scale + dy) * size;
                    for dx in 0..scale {
                        pixels[(row + (x + quiet) * scale + dx) as usize] = 0;
                    }
                }
            }
        }
    }
    let mut png_bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut png_bytes, size, size);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(CoreError::internal)?;
        writer.write_image_data(&pixels).map_err(CoreError::internal)?;
    }
    Ok(format!("data:image/png;base64,{}", STANDARD.encode(png_bytes)))
}

/// An SVG of `data`: one path of dark modules, 4-module quiet zone, scalable.
pub fn svg(data: &str) -> CoreResult<String> {
    use std::fmt::Write;
    let code = QrCode::new(data.as_bytes()).map_err(CoreError::internal)?;
    let width = code.width();
    let size = width + 8;
    let colors = code.to_colors();
    let mut path = String::new();
    for y in 0..width {
        for x in 0..width {
            if colors[y * width + x] == Color::Dark {
                let _ = write!(path, "M{},{}h1v1h-1z", x + 4, y + 4);
            }
        }
    }
    Ok(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\" shape-rendering=\"crispEdges\">\
         <rect width=\"{size}\" height=\"{size}\" fill=\"#fff\"/><path fill=\"#000\" d=\"{path}\"/></svg>"
    ))
}
