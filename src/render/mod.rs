//! The chart renderer: wgpu pipelines with WGSL from `shaders/`, independent of egui except for
//! [`egui_bridge`]. The same code draws the workstation's chart, `aio render`'s PNGs and the picture the
//! vision model reads.
//!
//! Data flow: [`scene::ChartData`] (bars, levels of detail, indicator columns) goes to the GPU in chunks, each
//! uploaded once when a frame first draws from it ([`gpu::GpuDataset`]); each frame [`scene::plan_frame`] turns
//! a [`camera::ChartView`] into GPU draws, overlay instances and labels in O(pixels); [`gpu::FrameGpu`] writes
//! them and records the draws.

pub mod camera;
pub mod drawings;
pub mod egui_bridge;
pub mod gpu;
pub mod lod;
pub mod offscreen;
pub mod scene;
pub mod text;

pub use camera::{ChartView, PriceScale, PxRect, Viewport};
pub use drawings::{Anchor, Drawing, DrawingKind};
pub use gpu::GpuDataset;
pub use offscreen::{OffscreenRenderer, RgbaImage};
pub use scene::{Annotations, ChartData, ChartTheme, FramePlan, LayoutStyle, plan_frame};

/// Why a chart could not be drawn or written.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// No wgpu adapter at all (not even a software one).
    #[error("no graphics adapter (install Mesa's lavapipe: apt install mesa-vulkan-drivers): {0}")]
    NoAdapter(String),
    /// The device could not be created or was lost.
    #[error("graphics device: {0}")]
    Device(String),
    /// The image is larger than the device allows.
    #[error("image {width}x{height} exceeds the device's {max} pixel limit")]
    Size {
        /// Requested width.
        width: u32,
        /// Requested height.
        height: u32,
        /// Largest side.
        max: u32,
    },
    /// PNG encoding failed.
    #[error("PNG encoding: {0}")]
    Encode(String),
    /// Writing the file failed (the message names it).
    #[error("{0}")]
    Write(String),
}
