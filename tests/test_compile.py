"""`torch.compile(dynamic=True)` of the model: one graph for the inputs of every size (of a batch size)."""

from __future__ import annotations

import torch
from functorch.compile import make_boxed_func
from torch._dynamo.backends.common import aot_autograd

from swinir_hf import SwinIRForImageRestoration


def test_one_functionalized_graph_serves_every_window_grid(tiny_config):
    """Inductor gets the graph through AOTAutograd, whose functionalization replayed the attention's in-place ops on
    views (the scale on q, the shift mask on the scores) at concrete sizes: a guard on the number of windows, so each
    new window grid compiled again (minutes each on a CPU). A backend behind the same functionalization that only
    counts the graphs (no Inductor) now gets one for every size, each giving eager's pixels; `fullgraph=True`: dynamo
    traces the whole forward as that one graph (it compiled a graph per window grid before)."""
    model = SwinIRForImageRestoration(tiny_config(upsampler="pixelshuffle", upscale=2)).eval()
    graphs = []

    def counting(gm: torch.fx.GraphModule, example_inputs: list) -> object:
        graphs.append(gm)
        return make_boxed_func(gm.forward)

    torch._dynamo.reset()
    compiled = torch.compile(model, backend=aot_autograd(fw_compiler=counting), dynamic=True, fullgraph=True)
    # Not square first: torch's duck sizing would give H and W one symbol, and a non-square input another graph.
    sizes = [(10, 12), (16, 20), (24, 8), (8, 8), (13, 9)]
    try:
        with torch.no_grad():
            for size in sizes:
                x = torch.rand(1, 3, *size)
                out = compiled(x).reconstruction
                assert out.shape == (1, 3, 2 * size[0], 2 * size[1])
                torch.testing.assert_close(out, model(x).reconstruction, rtol=1e-5, atol=1e-5)
    finally:
        torch._dynamo.reset()
    assert len(graphs) == 1
