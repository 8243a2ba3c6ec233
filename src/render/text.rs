//! Labels stamped into an RGBA image on the CPU (for offscreen PNGs; the workstation lets egui draw text), with
//! the Hack font shipped in `assets/fonts/` and rasterised by ab_glyph.

use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};

use super::scene::{Align, Label, Rgba};

/// Hack Regular (MIT/Bitstream Vera licence, `assets/fonts/Hack-Regular.txt`).
const FONT_BYTES: &[u8] = include_bytes!("../../assets/fonts/Hack-Regular.ttf");

/// A label painter for RGBA8 images.
pub struct TextStamper {
    font: FontRef<'static>,
    scale: PxScale,
}

impl TextStamper {
    /// A painter for text `size_px` tall, or `None` if the embedded font cannot be parsed.
    pub fn new(size_px: f32) -> Option<Self> {
        Some(Self { font: FontRef::try_from_slice(FONT_BYTES).ok()?, scale: PxScale::from(size_px) })
    }

    /// Width of `text` in pixels.
    pub fn width(&self, text: &str) -> f32 {
        let scaled = self.font.as_scaled(self.scale);
        text.chars().map(|c| scaled.h_advance(self.font.glyph_id(c))).sum()
    }

    /// Blends `labels` into `rgba` (`width` × `height`, straight RGBA8).
    pub fn stamp(&self, rgba: &mut [u8], width: u32, height: u32, labels: &[Label]) {
        let scaled = self.font.as_scaled(self.scale);
        let (ascent, descent) = (scaled.ascent(), scaled.descent());
        for label in labels {
            let w = self.width(&label.text);
            let x0 = match label.align {
                Align::Left => label.pos[0],
                Align::Center => label.pos[0] - 0.5 * w,
                Align::Right => label.pos[0] - w,
            };
            let text_h = ascent - descent;
            let top = label.pos[1] - 0.5 * text_h;
            if let Some(bg) = label.background {
                fill(rgba, width, height, [x0 - 3.0, top - 2.0, x0 + w + 3.0, top + text_h + 2.0], bg);
            }
            let passes: &[f32] = if label.strong { &[0.0, 0.6] } else { &[0.0] };
            for &dx in passes {
                let mut x = x0 + dx;
                for c in label.text.chars() {
                    let id = self.font.glyph_id(c);
                    let glyph = id.with_scale_and_position(self.scale, point(x, top + ascent));
                    x += scaled.h_advance(id);
                    let Some(outline) = self.font.outline_glyph(glyph) else { continue };
                    let bounds = outline.px_bounds();
                    outline.draw(|gx, gy, coverage| {
                        let px = bounds.min.x as i64 + gx as i64;
                        let py = bounds.min.y as i64 + gy as i64;
                        blend(rgba, width, height, px, py, label.color, coverage);
                    });
                }
            }
        }
    }
}

fn blend(rgba: &mut [u8], width: u32, height: u32, x: i64, y: i64, color: Rgba, coverage: f32) {
    if x < 0 || y < 0 || x >= width as i64 || y >= height as i64 {
        return;
    }
    let a = (color[3] * coverage).clamp(0.0, 1.0);
    let at = (y as usize * width as usize + x as usize) * 4;
    for k in 0..3 {
        let dst = rgba[at + k] as f32 / 255.0;
        rgba[at + k] = ((color[k] * a + dst * (1.0 - a)) * 255.0).round().clamp(0.0, 255.0) as u8;
    }
    rgba[at + 3] = 255;
}

fn fill(rgba: &mut [u8], width: u32, height: u32, rect: [f32; 4], color: Rgba) {
    let (x0, y0) = (rect[0].max(0.0).round() as i64, rect[1].max(0.0).round() as i64);
    let (x1, y1) = (rect[2].min(width as f32).round() as i64, rect[3].min(height as f32).round() as i64);
    for y in y0..y1 {
        for x in x0..x1 {
            blend(rgba, width, height, x, y, color, 1.0);
        }
    }
}
