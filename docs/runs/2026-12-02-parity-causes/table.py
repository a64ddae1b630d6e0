"""The per-cause table of docs/benchmarks.md: causes.log beside this file, and the idiomatic img/s and parity
 overhead of the bench records in the folders given:

    python docs/runs/2026-12-02-parity-causes/table.py docs/runs/2026-12-02-bench-idiomatic-fp32 docs/runs/2026-12-02-bench-idiomatic-bf16
"""
import json, pathlib, re, sys
log = pathlib.Path(__file__).with_name("causes.log").read_text()
figures = {}
for block in re.split(r"\n(?=\S)", log.strip()):
    head, *lines = block.splitlines()
    m = re.match(r"(\w+) (\w+) (keras|torch):", head)
    key = (m.group(1), m.group(2), m.group(3))
    figures[key] = {re.split(r"\s{2,}", l.strip())[0]: float(l.split()[-1]) for l in lines}
compute = {}
for p in [run for folder in sys.argv[1:] for run in pathlib.Path(folder).glob("*/")]:
    for backend in ("torch", "tensorflow"):
        f = p / f"{backend}.jsonl"
        if f.exists():
            r = json.loads(f.read_text().splitlines()[-1])
            compute[(r["model"], r["precision"], "keras" if backend == "tensorflow" else "torch")] = r
# PyTorch's pieces do not depend on the precision: parameters and optimizer state stay float32 under autocast.
# Nor do Keras' without BatchNorm (float32 variables under mixed_bfloat16).
for (model, precision, backend) in list(compute):
    if precision != "fp32" and (backend == "torch" or "BatchNorm, Keras'" not in figures[(model, "fp32", backend)]):
        figures.setdefault((model, precision, backend), figures[(model, "fp32", backend)])
order = {m: i for i, m in enumerate(["cnn", "alexnet", "mobilenet", "resnet18", "vit"])}
figures = dict(sorted(figures.items(), key=lambda kv: (kv[0][1] != "fp32", order[kv[0][0]], kv[0][2] != "torch")))
print("| Model | Precision | Backend | Optimizer update, ours / the framework's | BatchNorm forward + backward, ours (fused) / ours op by op / Keras' | Schedule and checks | The pieces, ours − the framework's | Idiomatic step (128 / its img/s) | Parity overhead the pieces predict | Measured |")
print("|---|---|---|---|---|---|---|---|---|---|")
for (model, precision, backend), f in figures.items():
    if backend == "keras":
        opt = (f["optimizer, ours"], f["optimizer, Keras'"])
        keras_bn = f.get("BatchNorm, Keras'")
        bn = ("no BatchNorm" if keras_bn is None else
              f"{f['BatchNorm, ours (fused)']:,.0f} / {f['BatchNorm, ours op by op']:,.0f} / {keras_bn:,.0f}")
        extra = f["schedule callback"]
        delta = opt[0] - opt[1] + extra + (0 if keras_bn is None else f["BatchNorm, ours (fused)"] - keras_bn)
        name = "Keras"
    else:
        opt = (f["optimizer, ours (groups)"], f["optimizer, one group"])
        bn, extra, name = "the same modules", f["loop extras"], "PyTorch"
        delta = opt[0] - opt[1] + extra
    r = compute.get((model, precision, backend))
    if r is None:
        step = predicted = measured = "–"
    else:
        idiom_ms = 1000 * 128 / r["idiomatic_images_per_sec"]
        step, predicted, measured = f"{idiom_ms:,.0f}", f"{idiom_ms / (idiom_ms + delta):.3f}", f"{r['parity_overhead']:.3f}"
    print(f"| {model} | {precision} | {name} | {opt[0]:.1f} / {opt[1]:.1f} | {bn} | {extra:.2f} | {delta:+,.1f} | {step} | {predicted} | {measured} |")
