"""The three pictures ``make sim`` writes: a spike raster, the weight distributions, float vs SpikeCore."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spikecore import outputs
from spikecore.isa import TraceKind


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")   # files only: no display on CI or a server
    import matplotlib.pyplot as plt

    return plt


def spike_raster(path: Path, compiled, sample_q: np.ndarray) -> None:
    """Every SPIKE record of one inference on the cycle-accurate golden model, per core and neuron."""
    from spikecore.golden.run import run

    result = run(compiled.image, compiled.stimulus(sample_q, quantized=True), steps=compiled.steps)
    trace = result.trace
    spikes = trace[trace["kind"] == TraceKind.SPIKE]
    neurons = compiled.image.config.neurons
    layer_of_core = {pc.core: pc.layer_index for pc in compiled.placed.cores}
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for layer in sorted(set(layer_of_core.values())):
        mask = np.array([layer_of_core.get(int(c), -1) == layer for c in spikes["core"]], dtype=bool)
        label = f"layer {layer}: {int(mask.sum())} spikes" if mask.any() else f"layer {layer}: read from membranes"
        ax.scatter(spikes["cycle"][mask], spikes["core"][mask] * neurons + spikes["index"][mask], s=14,
                   label=label, marker="|")
    for start in result.step_starts:
        ax.axvline(start, color="grey", lw=0.6, ls=":")
    ax.set_xlabel("array cycle (dotted: step starts)")
    ax.set_ylabel("core x neurons + neuron")
    ax.set_title(f"Spike raster of one inference ({len(spikes)} spikes, {result.cycles} cycles)")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    with outputs.output_path(path) as temporary:
        fig.savefig(temporary, dpi=110)
    plt.close(fig)


def weight_distribution(path: Path, compiled) -> None:
    """Histogram of each layer's int8 weights: how much of the 8-bit range quantisation uses."""
    layers = compiled.quant.layers
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(layers), figsize=(4.5 * len(layers), 3.5), squeeze=False)
    for ax, layer in zip(axes[0], layers, strict=True):
        ax.hist(layer.weight.ravel(), bins=np.arange(-128, 129, 4), color="tab:blue")
        ax.set_title(f"{layer.name}: {layer.weight.shape[1]}->{layer.weight.shape[0]}, scale {layer.weight_scale:.2g}")
        ax.set_xlabel("int8 weight")
        ax.set_yscale("log")
    axes[0][0].set_ylabel("count")
    fig.tight_layout()
    with outputs.output_path(path) as temporary:
        fig.savefig(temporary, dpi=110)
    plt.close(fig)


def float_vs_spikecore(path: Path, compiled, model, data, float_pred: np.ndarray, golden) -> None:
    """Left: every output of every held-out sample, float logit vs SpikeCore's (dequantised). Right: per-class
    accuracy of both."""
    import torch

    with torch.no_grad():
        float_logits = model(torch.as_tensor(data.x_test)).numpy()
    scale = compiled.quant.layers[-1].out_scale
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    left.scatter(float_logits.ravel(), golden.logits.ravel() * scale, s=3, alpha=0.4)
    low, high = float(float_logits.min()), float(float_logits.max())
    left.plot([low, high], [low, high], color="black", lw=0.8)
    left.set_xlabel("float logit")
    left.set_ylabel("SpikeCore logit x output scale")
    left.set_title("Outputs, held-out split")
    classes = np.unique(data.y_test)
    width = 0.4
    lowest = 1.0
    for offset, pred, label in ((-width / 2, float_pred, "float"), (width / 2, golden.predictions, "SpikeCore")):
        acc = [np.mean(pred[data.y_test == c] == c) for c in classes]
        lowest = min(lowest, *acc)
        right.bar(classes + offset, acc, width=width, label=label)
    right.set_ylim(max(0.0, lowest - 0.05), 1.0)
    right.set_xticks(classes)
    right.set_xlabel("class")
    right.set_ylabel("accuracy")
    right.set_title(f"Agreement with float: {np.mean(golden.predictions == float_pred):.2%}")
    right.legend(loc="lower right")
    fig.tight_layout()
    with outputs.output_path(path) as temporary:
        fig.savefig(temporary, dpi=110)
    plt.close(fig)


def plot_all(out_dir: Path, compiled, model, data, float_pred, golden, x_q) -> dict[str, str]:
    files = {"raster": out_dir / "spike_raster.png", "weights": out_dir / "weight_distribution.png",
             "comparison": out_dir / "float_vs_spikecore.png"}
    spike_raster(files["raster"], compiled, x_q[0])
    weight_distribution(files["weights"], compiled)
    float_vs_spikecore(files["comparison"], compiled, model, data, float_pred, golden)
    return {k: str(v) for k, v in files.items()}
