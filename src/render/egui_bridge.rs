//! The one place the renderer meets egui: a paint callback that uploads the chunks of the dataset a frame
//! needs (each once), writes the frame's draws in `prepare` and records them in `paint`, plus the labels painted with egui's text.

use std::sync::Arc;

use egui_wgpu::{CallbackResources, CallbackTrait, ScreenDescriptor};

use super::{
    gpu::{ChartPipelines, FrameGpu, GpuDataset},
    scene::{Align, ChartData, FramePlan, Rgba},
};

/// Chart GPU state kept in egui-wgpu's callback resources.
struct Resources {
    pipelines: ChartPipelines,
    frame: FrameGpu,
    dataset: Option<GpuDataset>,
}

/// Builds the pipelines for the window's target format; call once when the app starts.
pub fn install(render_state: &egui_wgpu::RenderState) {
    let pipelines = ChartPipelines::new(&render_state.device, render_state.target_format);
    let frame = FrameGpu::new(&render_state.device, &pipelines);
    render_state.renderer.write().callback_resources.insert(Resources { pipelines, frame, dataset: None });
}

/// One chart frame drawn inside an egui rect.
pub struct ChartCallback {
    /// The dataset (its GPU copy starts afresh when its key changes).
    pub data: Arc<ChartData>,
    /// The frame, planned in physical pixels of the rect.
    pub plan: Arc<FramePlan>,
}

impl CallbackTrait for ChartCallback {
    fn prepare(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        _screen: &ScreenDescriptor,
        _encoder: &mut wgpu::CommandEncoder,
        resources: &mut CallbackResources,
    ) -> Vec<wgpu::CommandBuffer> {
        let Some(r) = resources.get_mut::<Resources>() else { return Vec::new() };
        let dataset = r.dataset.get_or_insert_with(|| GpuDataset::new(&self.data));
        r.frame.prepare(device, queue, &r.pipelines, &self.plan, dataset, &self.data);
        Vec::new()
    }

    fn paint(
        &self,
        info: egui::PaintCallbackInfo,
        pass: &mut wgpu::RenderPass<'static>,
        resources: &CallbackResources,
    ) {
        let Some(r) = resources.get::<Resources>() else { return };
        let Some(dataset) = &r.dataset else { return };
        let vp = info.viewport_in_pixels();
        let origin = [vp.left_px.max(0) as u32, vp.top_px.max(0) as u32];
        r.frame.paint(pass, &r.pipelines, dataset, origin, info.screen_size_px);
    }
}

/// An egui colour from a chart colour.
pub fn color32(c: Rgba) -> egui::Color32 {
    let u = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    egui::Color32::from_rgba_unmultiplied(u(c[0]), u(c[1]), u(c[2]), u(c[3]))
}

/// Paints the frame's labels with egui text; `rect` is the chart's rect in points and the plan is in pixels.
pub fn paint_labels(painter: &egui::Painter, rect: egui::Rect, plan: &FramePlan, pixels_per_point: f32) {
    let font = egui::FontId::monospace(11.0);
    for label in &plan.labels {
        let pos = rect.min + egui::vec2(label.pos[0], label.pos[1]) / pixels_per_point;
        let anchor = match label.align {
            Align::Left => egui::Align2::LEFT_CENTER,
            Align::Center => egui::Align2::CENTER_CENTER,
            Align::Right => egui::Align2::RIGHT_CENTER,
        };
        let galley = painter.layout_no_wrap(label.text.clone(), font.clone(), color32(label.color));
        let text_rect = anchor.anchor_size(pos, galley.size());
        if let Some(bg) = label.background {
            painter.rect_filled(text_rect.expand2(egui::vec2(3.0, 1.0)), 2.0, color32(bg));
        }
        painter.galley(text_rect.min, galley.clone(), color32(label.color));
        if label.strong {
            painter.galley(text_rect.min + egui::vec2(0.5, 0.0), galley, color32(label.color));
        }
    }
}

/// Adds the chart's paint callback for `rect` (points).
pub fn paint_chart(painter: &egui::Painter, rect: egui::Rect, data: Arc<ChartData>, plan: Arc<FramePlan>) {
    painter.add(egui_wgpu::Callback::new_paint_callback(rect, ChartCallback { data, plan }));
}
