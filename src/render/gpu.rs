//! The wgpu side of the chart: long-lived pipelines ([`ChartPipelines`]), per-dataset buffers uploaded once
//! ([`GpuDataset`]), and per-frame draw data ([`FrameGpu`]: one uniform slot per draw and the overlay
//! instances). Knows nothing of egui: the same calls draw into an offscreen texture or an egui render pass.

use std::ops::Range;

use bytemuck::{Pod, Zeroable};
use wgpu::util::DeviceExt;

use super::{
    lod::LodPyramid,
    scene::{Command, FramePlan, OverlayInstance},
};

/// The WGSL sources, embedded at build time.
pub mod shaders {
    /// Uniform and transforms shared by the candle and series shaders.
    pub const COMMON: &str = include_str!("../../shaders/common.wgsl");
    /// The quad around a line segment, shared by the series and overlay shaders.
    pub const SEGMENT: &str = include_str!("../../shaders/segment.wgsl");
    /// Candles and volume.
    pub const CANDLES: &str = include_str!("../../shaders/candles.wgsl");
    /// Indicator lines and histograms.
    pub const SERIES: &str = include_str!("../../shaders/series.wgsl");
    /// Screen-space overlays.
    pub const OVERLAY: &str = include_str!("../../shaders/overlay.wgsl");

    /// Every shader as compiled: (name, full source with `common.wgsl` and `segment.wgsl` prepended where used).
    pub fn modules() -> Vec<(&'static str, String)> {
        vec![
            ("candles.wgsl", format!("{COMMON}\n{CANDLES}")),
            ("series.wgsl", format!("{COMMON}\n{SEGMENT}\n{SERIES}")),
            ("overlay.wgsl", format!("{SEGMENT}\n{OVERLAY}")),
        ]
    }
}

/// The per-draw uniform (`Draw` in `common.wgsl`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Pod, Zeroable)]
pub struct DrawUniform {
    /// Canvas size in pixels.
    pub canvas: [f32; 2],
    /// Plot area's top-left corner.
    pub rect_min: [f32; 2],
    /// Plot area's size.
    pub rect_size: [f32; 2],
    /// Fractional part of the left edge's bar position.
    pub x_frac: f32,
    /// Pixels per bar.
    pub px_per_bar: f32,
    /// Integer part of the left edge's bar position.
    pub x_origin: i32,
    /// Bars per bucket of the level drawn.
    pub bucket_bars: u32,
    /// Bars in the dataset.
    pub bar_count: u32,
    /// 1 for a log axis.
    pub log_scale: u32,
    /// Axis value at the bottom of the plot area.
    pub y_min: f32,
    /// Pixels per axis unit.
    pub px_per_y: f32,
    /// Line width in pixels.
    pub width_px: f32,
    /// Histogram baseline.
    pub base: f32,
    /// Up colour (and the colour of lines).
    pub color_up: [f32; 4],
    /// Down colour.
    pub color_down: [f32; 4],
    /// Body width as a fraction of the bucket width.
    pub body_fraction: f32,
    /// Padding to 16 bytes.
    pub pad: [f32; 3],
}

/// Uniform slots are this far apart (the largest `min_uniform_buffer_offset_alignment` wgpu allows).
const SLOT_BYTES: u64 = 256;

/// Pipelines and bind-group layouts, built once per device and target format.
pub struct ChartPipelines {
    candles: wgpu::RenderPipeline,
    volume: wgpu::RenderPipeline,
    line: wgpu::RenderPipeline,
    strip: wgpu::RenderPipeline,
    hist: wgpu::RenderPipeline,
    overlay: wgpu::RenderPipeline,
    draw_layout: wgpu::BindGroupLayout,
    bars_layout: wgpu::BindGroupLayout,
    series_layout: wgpu::BindGroupLayout,
    screen_layout: wgpu::BindGroupLayout,
    srgb_target: bool,
}

fn storage_entries(count: u32) -> Vec<wgpu::BindGroupLayoutEntry> {
    (0..count)
        .map(|binding| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::VERTEX,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Storage { read_only: true },
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        })
        .collect()
}

fn uniform_layout(device: &wgpu::Device, label: &str, size: u64, dynamic: bool) -> wgpu::BindGroupLayout {
    device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some(label),
        entries: &[wgpu::BindGroupLayoutEntry {
            binding: 0,
            visibility: wgpu::ShaderStages::VERTEX_FRAGMENT,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Uniform,
                has_dynamic_offset: dynamic,
                min_binding_size: wgpu::BufferSize::new(size),
            },
            count: None,
        }],
    })
}

impl ChartPipelines {
    /// Compiles the shaders and builds the pipelines for render targets of `format` (single-sampled).
    pub fn new(device: &wgpu::Device, format: wgpu::TextureFormat) -> Self {
        let draw_layout = uniform_layout(device, "aio chart draw", std::mem::size_of::<DrawUniform>() as u64, true);
        let screen_layout = uniform_layout(device, "aio chart screen", 16, false);
        let bars_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("aio chart bars"),
            entries: &storage_entries(5),
        });
        let series_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("aio chart series"),
            entries: &storage_entries(1),
        });
        let modules: Vec<wgpu::ShaderModule> = shaders::modules()
            .into_iter()
            .map(|(name, source)| {
                device.create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(name),
                    source: wgpu::ShaderSource::Wgsl(source.into()),
                })
            })
            .collect();
        let (candles_module, series_module, overlay_module) = (&modules[0], &modules[1], &modules[2]);
        let layout = |label: &str, groups: &[&wgpu::BindGroupLayout]| {
            let groups: Vec<Option<&wgpu::BindGroupLayout>> = groups.iter().map(|g| Some(*g)).collect();
            device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some(label),
                bind_group_layouts: &groups,
                immediate_size: 0,
            })
        };
        let bars_pipeline_layout = layout("aio chart bars", &[&draw_layout, &bars_layout]);
        let series_pipeline_layout = layout("aio chart series", &[&draw_layout, &series_layout]);
        let overlay_pipeline_layout = layout("aio chart overlay", &[&screen_layout]);
        let target = [Some(wgpu::ColorTargetState {
            format,
            blend: Some(wgpu::BlendState::ALPHA_BLENDING),
            write_mask: wgpu::ColorWrites::ALL,
        })];
        let overlay_attributes = wgpu::vertex_attr_array![
            0 => Float32x2, 1 => Float32x2, 2 => Float32x4, 3 => Float32, 4 => Uint32
        ];
        let overlay_buffers = [Some(wgpu::VertexBufferLayout {
            array_stride: std::mem::size_of::<OverlayInstance>() as u64,
            step_mode: wgpu::VertexStepMode::Instance,
            attributes: &overlay_attributes,
        })];
        let pipeline_with = |label: &str,
                             topology: wgpu::PrimitiveTopology,
                             layout: &wgpu::PipelineLayout,
                             module: &wgpu::ShaderModule,
                             vs: &str,
                             fs: &str,
                             buffers: &[Option<wgpu::VertexBufferLayout<'_>>]| {
            device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
                label: Some(label),
                layout: Some(layout),
                vertex: wgpu::VertexState {
                    module,
                    entry_point: Some(vs),
                    compilation_options: Default::default(),
                    buffers,
                },
                primitive: wgpu::PrimitiveState { topology, ..Default::default() },
                depth_stencil: None,
                multisample: wgpu::MultisampleState::default(),
                fragment: Some(wgpu::FragmentState {
                    module,
                    entry_point: Some(fs),
                    compilation_options: Default::default(),
                    targets: &target,
                }),
                multiview_mask: None,
                cache: None,
            })
        };
        let pipeline = |label: &str,
                        layout: &wgpu::PipelineLayout,
                        module: &wgpu::ShaderModule,
                        vs: &str,
                        fs: &str,
                        buffers: &[Option<wgpu::VertexBufferLayout<'_>>]| {
            pipeline_with(label, wgpu::PrimitiveTopology::TriangleList, layout, module, vs, fs, buffers)
        };
        Self {
            strip: pipeline_with(
                "aio line strips",
                wgpu::PrimitiveTopology::LineStrip,
                &series_pipeline_layout,
                series_module,
                "vs_strip",
                "fs_flat",
                &[],
            ),
            candles: pipeline("aio candles", &bars_pipeline_layout, candles_module, "vs_candle", "fs_flat", &[]),
            volume: pipeline("aio volume", &bars_pipeline_layout, candles_module, "vs_volume", "fs_flat", &[]),
            line: pipeline("aio lines", &series_pipeline_layout, series_module, "vs_line", "fs_line", &[]),
            hist: pipeline("aio histogram", &series_pipeline_layout, series_module, "vs_hist", "fs_flat", &[]),
            overlay: pipeline(
                "aio overlay",
                &overlay_pipeline_layout,
                overlay_module,
                "vs_overlay",
                "fs_overlay",
                &overlay_buffers,
            ),
            draw_layout,
            bars_layout,
            series_layout,
            screen_layout,
            srgb_target: format.is_srgb(),
        }
    }
}

/// A dataset on the GPU: five columns per level of detail and one column per indicator series, uploaded once.
pub struct GpuDataset {
    levels: Vec<wgpu::BindGroup>,
    series: Vec<wgpu::BindGroup>,
    /// Bytes uploaded.
    pub bytes: u64,
}

fn storage_buffer(device: &wgpu::Device, label: &str, values: &[f32]) -> wgpu::Buffer {
    // Storage bindings must not be empty.
    let contents: &[f32] = if values.is_empty() { &[0.0] } else { values };
    device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some(label),
        contents: bytemuck::cast_slice(contents),
        usage: wgpu::BufferUsages::STORAGE,
    })
}

impl GpuDataset {
    /// Uploads every level of `pyramid` and every series column (`f32`, missing values as NaN or ≥ 1e37).
    pub fn upload(device: &wgpu::Device, pipelines: &ChartPipelines, pyramid: &LodPyramid, series: &[&[f32]]) -> Self {
        let mut bytes = 0u64;
        let levels = pyramid
            .levels()
            .iter()
            .map(|level| {
                let columns = [&level.open, &level.high, &level.low, &level.close, &level.volume];
                let buffers: Vec<wgpu::Buffer> = columns
                    .iter()
                    .map(|c| {
                        bytes += 4 * c.len() as u64;
                        storage_buffer(device, "aio chart level", c)
                    })
                    .collect();
                let entries: Vec<wgpu::BindGroupEntry<'_>> = buffers
                    .iter()
                    .enumerate()
                    .map(|(i, b)| wgpu::BindGroupEntry { binding: i as u32, resource: b.as_entire_binding() })
                    .collect();
                device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: Some("aio chart level"),
                    layout: &pipelines.bars_layout,
                    entries: &entries,
                })
            })
            .collect();
        let series = series
            .iter()
            .map(|values| {
                bytes += 4 * values.len() as u64;
                let buffer = storage_buffer(device, "aio chart series", values);
                device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: Some("aio chart series"),
                    layout: &pipelines.series_layout,
                    entries: &[wgpu::BindGroupEntry { binding: 0, resource: buffer.as_entire_binding() }],
                })
            })
            .collect();
        Self { levels, series, bytes }
    }
}

/// One prepared draw.
#[derive(Debug, Clone)]
enum PreparedDraw {
    Bars { volume: bool, slot: u32, level: usize, buckets: Range<u32>, clip: [u32; 4] },
    Series { kind: SeriesDraw, slot: u32, series: usize, instances: Range<u32>, clip: [u32; 4] },
    Overlay { instances: Range<u32>, clip: [u32; 4] },
}

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SeriesDraw {
    /// Anti-aliased quads, one per segment.
    Quads,
    /// A one-pixel line strip, one vertex per sample.
    Strip,
    /// Histogram bars.
    Histogram,
}

/// Per-frame GPU data: uniform slots and overlay instances, grown as needed and rewritten every frame.
pub struct FrameGpu {
    uniforms: wgpu::Buffer,
    uniform_slots: u64,
    draw_group: wgpu::BindGroup,
    screen: wgpu::Buffer,
    screen_group: wgpu::BindGroup,
    overlays: wgpu::Buffer,
    overlay_capacity: u64,
    draws: Vec<PreparedDraw>,
    canvas: [f32; 2],
}

fn linear_from_srgb(c: [f32; 4]) -> [f32; 4] {
    let f = |v: f32| if v <= 0.04045 { v / 12.92 } else { ((v + 0.055) / 1.055).powf(2.4) };
    [f(c[0]), f(c[1]), f(c[2]), c[3]]
}

impl FrameGpu {
    /// Empty frame data on `device`.
    pub fn new(device: &wgpu::Device, pipelines: &ChartPipelines) -> Self {
        let (uniforms, draw_group) = Self::uniform_buffer(device, pipelines, 64);
        let screen = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("aio chart screen"),
            size: 16,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let screen_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("aio chart screen"),
            layout: &pipelines.screen_layout,
            entries: &[wgpu::BindGroupEntry { binding: 0, resource: screen.as_entire_binding() }],
        });
        let overlay_capacity = 1_024;
        Self {
            uniforms,
            uniform_slots: 64,
            draw_group,
            screen,
            screen_group,
            overlays: Self::overlay_buffer(device, overlay_capacity),
            overlay_capacity,
            draws: Vec::new(),
            canvas: [1.0, 1.0],
        }
    }

    fn uniform_buffer(
        device: &wgpu::Device,
        pipelines: &ChartPipelines,
        slots: u64,
    ) -> (wgpu::Buffer, wgpu::BindGroup) {
        let buffer = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("aio chart draws"),
            size: slots * SLOT_BYTES,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("aio chart draws"),
            layout: &pipelines.draw_layout,
            entries: &[wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &buffer,
                    offset: 0,
                    size: wgpu::BufferSize::new(std::mem::size_of::<DrawUniform>() as u64),
                }),
            }],
        });
        (buffer, group)
    }

    fn overlay_buffer(device: &wgpu::Device, capacity: u64) -> wgpu::Buffer {
        device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("aio chart overlays"),
            size: capacity * std::mem::size_of::<OverlayInstance>() as u64,
            usage: wgpu::BufferUsages::VERTEX | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }

    /// Writes the uniforms and overlay instances of `plan` (the only per-frame upload).
    pub fn prepare(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        pipelines: &ChartPipelines,
        plan: &FramePlan,
    ) {
        let slots_needed = plan.commands.iter().filter(|c| !matches!(c, Command::Overlay { .. })).count().max(1) as u64;
        if slots_needed > self.uniform_slots {
            let slots = slots_needed.next_power_of_two();
            (self.uniforms, self.draw_group) = Self::uniform_buffer(device, pipelines, slots);
            self.uniform_slots = slots;
        }
        let overlays_needed = plan.overlays.len().max(1) as u64;
        if overlays_needed > self.overlay_capacity {
            self.overlay_capacity = overlays_needed.next_power_of_two();
            self.overlays = Self::overlay_buffer(device, self.overlay_capacity);
        }
        let convert = |c: [f32; 4]| if pipelines.srgb_target { linear_from_srgb(c) } else { c };
        let mut bytes = vec![0u8; (slots_needed * SLOT_BYTES) as usize];
        self.draws.clear();
        let mut slot = 0u32;
        for command in &plan.commands {
            let clip = command.clip_px(plan.canvas);
            let mut write = |u: &DrawUniform| {
                let mut u = *u;
                u.color_up = convert(u.color_up);
                u.color_down = convert(u.color_down);
                let at = slot as usize * SLOT_BYTES as usize;
                bytes[at..at + std::mem::size_of::<DrawUniform>()].copy_from_slice(bytemuck::bytes_of(&u));
                slot += 1;
                slot - 1
            };
            let draw = match command {
                Command::Candles { uniform, level, buckets, .. } => PreparedDraw::Bars {
                    volume: false,
                    slot: write(uniform),
                    level: *level,
                    buckets: buckets.clone(),
                    clip,
                },
                Command::Volume { uniform, level, buckets, .. } => PreparedDraw::Bars {
                    volume: true,
                    slot: write(uniform),
                    level: *level,
                    buckets: buckets.clone(),
                    clip,
                },
                Command::Line { uniform, series, samples, .. } if uniform.bucket_bars > 1 => PreparedDraw::Series {
                    kind: SeriesDraw::Strip,
                    slot: write(uniform),
                    series: *series,
                    instances: samples.clone(),
                    clip,
                },
                Command::Line { uniform, series, samples, .. } => PreparedDraw::Series {
                    kind: SeriesDraw::Quads,
                    slot: write(uniform),
                    series: *series,
                    instances: samples.start..samples.end.saturating_sub(1).max(samples.start),
                    clip,
                },
                Command::Histogram { uniform, series, samples, .. } => PreparedDraw::Series {
                    kind: SeriesDraw::Histogram,
                    slot: write(uniform),
                    series: *series,
                    instances: samples.clone(),
                    clip,
                },
                Command::Overlay { instances, .. } => PreparedDraw::Overlay { instances: instances.clone(), clip },
            };
            self.draws.push(draw);
        }
        queue.write_buffer(&self.uniforms, 0, &bytes);
        let mut screen = [0f32; 4];
        screen[..2].copy_from_slice(&plan.canvas);
        queue.write_buffer(&self.screen, 0, bytemuck::cast_slice(&screen));
        if !plan.overlays.is_empty() {
            let converted: Vec<OverlayInstance> =
                plan.overlays.iter().map(|o| OverlayInstance { color: convert(o.color), ..*o }).collect();
            queue.write_buffer(&self.overlays, 0, bytemuck::cast_slice(&converted));
        }
        self.canvas = plan.canvas;
    }

    /// Records the prepared draws. `target_px` is the render target's size and `origin_px` where the canvas's
    /// top-left corner lies on it (non-zero inside an egui window), used for scissor rectangles.
    pub fn paint(
        &self,
        pass: &mut wgpu::RenderPass<'_>,
        pipelines: &ChartPipelines,
        dataset: &GpuDataset,
        origin_px: [u32; 2],
        target_px: [u32; 2],
    ) {
        let scissor = |pass: &mut wgpu::RenderPass<'_>, clip: &[u32; 4]| -> bool {
            let x0 = (origin_px[0] + clip[0]).min(target_px[0]);
            let y0 = (origin_px[1] + clip[1]).min(target_px[1]);
            let x1 = (origin_px[0] + clip[0] + clip[2]).min(target_px[0]);
            let y1 = (origin_px[1] + clip[1] + clip[3]).min(target_px[1]);
            if x1 <= x0 || y1 <= y0 {
                return false;
            }
            pass.set_scissor_rect(x0, y0, x1 - x0, y1 - y0);
            true
        };
        for draw in &self.draws {
            match draw {
                PreparedDraw::Bars { volume, slot, level, buckets, clip } => {
                    // Merged buckets draw only their full-width envelope (the body would lie inside it).
                    let vertices = if *volume || *level > 0 { 6 } else { 12 };
                    let Some(group) = dataset.levels.get(*level) else { continue };
                    if buckets.is_empty() || !scissor(pass, clip) {
                        continue;
                    }
                    pass.set_pipeline(if *volume { &pipelines.volume } else { &pipelines.candles });
                    pass.set_bind_group(0, &self.draw_group, &[slot * SLOT_BYTES as u32]);
                    pass.set_bind_group(1, group, &[]);
                    pass.draw(0..vertices, buckets.clone());
                }
                PreparedDraw::Series { kind, slot, series, instances, clip } => {
                    let Some(group) = dataset.series.get(*series) else { continue };
                    if instances.is_empty() || !scissor(pass, clip) {
                        continue;
                    }
                    pass.set_pipeline(match kind {
                        SeriesDraw::Quads => &pipelines.line,
                        SeriesDraw::Strip => &pipelines.strip,
                        SeriesDraw::Histogram => &pipelines.hist,
                    });
                    pass.set_bind_group(0, &self.draw_group, &[slot * SLOT_BYTES as u32]);
                    pass.set_bind_group(1, group, &[]);
                    if *kind == SeriesDraw::Strip {
                        pass.draw(instances.clone(), 0..1);
                    } else {
                        pass.draw(0..6, instances.clone());
                    }
                }
                PreparedDraw::Overlay { instances, clip } => {
                    if instances.is_empty() || !scissor(pass, clip) {
                        continue;
                    }
                    pass.set_pipeline(&pipelines.overlay);
                    pass.set_bind_group(0, &self.screen_group, &[]);
                    pass.set_vertex_buffer(0, self.overlays.slice(..));
                    pass.draw(0..6, instances.clone());
                }
            }
        }
    }

    /// The canvas size of the last prepared frame.
    pub fn canvas(&self) -> [f32; 2] {
        self.canvas
    }
}
