//! Drawing a chart without a window: wgpu on whatever adapter exists (Mesa's lavapipe on a machine without a
//! GPU), into an RGBA texture that is read back and written as PNG. `aio render`, the workstation's
//! "Export PNG" and the vision model's input all come from here.

use std::path::Path;

use super::{
    RenderError,
    gpu::{ChartPipelines, FrameGpu, GpuDataset},
    scene::{ChartData, FramePlan},
    text::TextStamper,
};

/// The render target format (straight RGBA8, read back as is).
const FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8Unorm;

/// A headless wgpu device with the chart pipelines.
pub struct OffscreenRenderer {
    device: wgpu::Device,
    queue: wgpu::Queue,
    pipelines: ChartPipelines,
    frame: FrameGpu,
    target: Option<Target>,
    adapter: wgpu::AdapterInfo,
}

struct Target {
    size: [u32; 2],
    texture: wgpu::Texture,
    view: wgpu::TextureView,
    readback: wgpu::Buffer,
    padded_row: u32,
}

/// An RGBA8 image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbaImage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Row-major straight RGBA8.
    pub pixels: Vec<u8>,
}

impl OffscreenRenderer {
    /// Opens the first adapter wgpu finds (a hardware GPU if any, else a software one such as lavapipe).
    pub fn new() -> Result<Self, RenderError> {
        // Vulkan/Metal/DX12 (lavapipe included) unless WGPU_BACKEND says otherwise: probing GL without a display
        // only logs EGL errors.
        let mut descriptor = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
        if std::env::var_os("WGPU_BACKEND").is_none() {
            descriptor.backends = wgpu::Backends::PRIMARY;
        }
        let instance = wgpu::Instance::new(descriptor);
        let request = |force_fallback_adapter| {
            pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                force_fallback_adapter,
                compatible_surface: None,
                apply_limit_buckets: false,
            }))
        };
        let adapter = request(false).or_else(|_| request(true)).map_err(|e| RenderError::NoAdapter(e.to_string()))?;
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("aio offscreen chart"),
            required_limits: adapter.limits(),
            ..Default::default()
        }))
        .map_err(|e| RenderError::Device(e.to_string()))?;
        let pipelines = ChartPipelines::new(&device, FORMAT);
        let frame = FrameGpu::new(&device, &pipelines);
        Ok(Self { device, queue, pipelines, frame, target: None, adapter: adapter.get_info() })
    }

    /// The adapter in words (`llvmpipe (LLVM 19.1.7, 256 bits) (Vulkan)`).
    pub fn adapter_name(&self) -> String {
        format!("{} ({:?})", self.adapter.name, self.adapter.backend)
    }

    /// True when the adapter is a software rasteriser.
    pub fn is_cpu(&self) -> bool {
        self.adapter.device_type == wgpu::DeviceType::Cpu
    }

    /// The GPU copy of `data`: empty at first, filled chunk by chunk as frames need them.
    pub fn dataset(&self, data: &ChartData) -> GpuDataset {
        GpuDataset::new(data)
    }

    /// Creates the render target and read-back buffer when the size changes.
    fn ensure_target(&mut self, size: [u32; 2]) {
        if self.target.as_ref().is_none_or(|t| t.size != size) {
            let texture = self.device.create_texture(&wgpu::TextureDescriptor {
                label: Some("aio chart target"),
                size: wgpu::Extent3d { width: size[0], height: size[1], depth_or_array_layers: 1 },
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format: FORMAT,
                usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
                view_formats: &[],
            });
            let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
            let padded_row =
                (size[0] * 4).div_ceil(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT) * wgpu::COPY_BYTES_PER_ROW_ALIGNMENT;
            let readback = self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("aio chart readback"),
                size: padded_row as u64 * size[1] as u64,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            self.target = Some(Target { size, texture, view, readback, padded_row });
        }
    }

    /// Draws `plan` of `data` and waits for the GPU (no read-back): what one frame costs.
    pub fn draw(&mut self, dataset: &mut GpuDataset, data: &ChartData, plan: &FramePlan) -> Result<(), RenderError> {
        self.submit(dataset, data, plan, false)
    }

    fn submit(
        &mut self,
        dataset: &mut GpuDataset,
        data: &ChartData,
        plan: &FramePlan,
        read_back: bool,
    ) -> Result<(), RenderError> {
        let size = [plan.canvas[0].round().max(1.0) as u32, plan.canvas[1].round().max(1.0) as u32];
        let max = self.device.limits().max_texture_dimension_2d;
        if size[0] > max || size[1] > max {
            return Err(RenderError::Size { width: size[0], height: size[1], max });
        }
        self.frame.prepare(&self.device, &self.queue, &self.pipelines, plan, dataset, data);
        self.ensure_target(size);
        let target = self.target.as_ref().ok_or_else(|| RenderError::Device("no render target".into()))?;
        let mut encoder =
            self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("aio chart") });
        {
            let [r, g, b, a] = plan.background.map(f64::from);
            let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("aio chart"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view: &target.view,
                    depth_slice: None,
                    resolve_target: None,
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Clear(wgpu::Color { r, g, b, a }),
                        store: wgpu::StoreOp::Store,
                    },
                })],
                depth_stencil_attachment: None,
                timestamp_writes: None,
                occlusion_query_set: None,
                multiview_mask: None,
            });
            self.frame.paint(&mut pass, &self.pipelines, dataset, [0, 0], size);
        }
        if read_back {
            encoder.copy_texture_to_buffer(
                target.texture.as_image_copy(),
                wgpu::TexelCopyBufferInfo {
                    buffer: &target.readback,
                    layout: wgpu::TexelCopyBufferLayout {
                        offset: 0,
                        bytes_per_row: Some(target.padded_row),
                        rows_per_image: Some(size[1]),
                    },
                },
                wgpu::Extent3d { width: size[0], height: size[1], depth_or_array_layers: 1 },
            );
        }
        self.queue.submit([encoder.finish()]);
        self.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| RenderError::Device(e.to_string()))?;
        Ok(())
    }

    /// Draws `plan` of `data`, reads the pixels back and stamps the labels: the finished picture.
    pub fn render(
        &mut self,
        dataset: &mut GpuDataset,
        data: &ChartData,
        plan: &FramePlan,
        text_px: f32,
    ) -> Result<RgbaImage, RenderError> {
        self.submit(dataset, data, plan, true)?;
        let target = self.target.as_ref().ok_or_else(|| RenderError::Device("no render target".into()))?;
        let [width, height] = target.size;
        let slice = target.readback.slice(..);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        self.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| RenderError::Device(e.to_string()))?;
        rx.recv().map_err(|e| RenderError::Device(e.to_string()))?.map_err(|e| RenderError::Device(e.to_string()))?;
        let mut pixels = Vec::with_capacity((width * height * 4) as usize);
        {
            let mapped = slice.get_mapped_range().map_err(|e| RenderError::Device(e.to_string()))?;
            for row in mapped.chunks(target.padded_row as usize).take(height as usize) {
                pixels.extend_from_slice(&row[..(width * 4) as usize]);
            }
        }
        target.readback.unmap();
        if let Some(stamper) = TextStamper::new(text_px) {
            stamper.stamp(&mut pixels, width, height, &plan.labels);
        }
        Ok(RgbaImage { width, height, pixels })
    }
}

impl RgbaImage {
    /// Encodes the image as PNG bytes.
    pub fn to_png(&self) -> Result<Vec<u8>, RenderError> {
        let mut out = std::io::Cursor::new(Vec::new());
        image::write_buffer_with_format(
            &mut out,
            &self.pixels,
            self.width,
            self.height,
            image::ExtendedColorType::Rgba8,
            image::ImageFormat::Png,
        )
        .map_err(|e| RenderError::Encode(e.to_string()))?;
        Ok(out.into_inner())
    }

    /// Writes the image as PNG to `path` (a temporary file renamed into place: never a partial file).
    pub fn write_png(&self, path: &Path) -> Result<(), RenderError> {
        let bytes = self.to_png()?;
        crate::ingest::write_atomically(path, |file| std::io::Write::write_all(file, &bytes).map_err(|e| e.to_string()))
            .map_err(|e| RenderError::Write(e.to_string()))
    }
}

impl OffscreenRenderer {
    /// Uploads `data`, plans the frame for `view` at `size` pixels and renders it with labels: one picture,
    /// as `aio render` and the workstation's "Export PNG" make it.
    pub fn render_chart(
        &mut self,
        data: &super::ChartData,
        view: &super::ChartView,
        size: [u32; 2],
        theme: &super::ChartTheme,
        annotations: &super::Annotations,
    ) -> Result<RgbaImage, RenderError> {
        let style = super::LayoutStyle::default();
        let plan = super::plan_frame(data, view, [size[0] as f32, size[1] as f32], theme, annotations, &style);
        let mut dataset = self.dataset(data);
        self.render(&mut dataset, data, &plan, style.text_px)
    }
}
