"""Text-to-image generation of the synthetic images, one shard (class x index range) per job.

Modules, bottom up (each imports only the ones above it):

- `plan`: which images exist and where: per-image seeds, shards, file names.
  Imports neither torch nor diffusers: the workflow plans the shards with it
  while parsing the Snakefile.
- `weights`: finding the generator's weights (local folder, Hugging Face
  cache, or a download) once for all shards (stage `generator_model`).
- `pipeline`: the device, the dtype and the diffusers pipeline; one call.
- `images`: one image's identity, finished-or-not check, atomic write and
  record; the generate-and-retry loop.
- `shard`: one shard made and listed (stage `generate_shard`), all shards
  merged (stage `generation_manifest`).

On disk:

    <out_dir>/<cls>/<index:06d>.png          finished images only (atomic rename)
    <out_dir>/.meta/<cls>/<index:06d>.json   per-image record: prompt, seed, settings, sha256

plus, at paths the workflow chooses, the model snapshot every shard uses
(json), one CSV of records per shard and the merged manifest of all records.

Determinism: image i of class c is generated from the noise seed
`image_seed(base_seed, c, i)` (a CPU `torch.Generator` per image, as diffusers
recommends, so the noise does not depend on the device or on the other images
of the batch), with a prompt and guidance that are functions of (c, i) too
(`synth2real.data.prompts`). File names are the zero-padded index, so the source
manifest's "first N files" is "images 0..N-1": the 500 set is the prefix of
the 1000 set. Batches are cut from the shard start, so a fresh run of the same
config makes the same batches and the same pixels; an image regenerated alone
after an interruption gets the same noise, prompt and guidance (pixels may
differ in the last bit where the accelerator's kernels depend on batch size).

Resume: an image counts as finished only when its record matches the current
settings (`key`) and the file's sha256 matches the record and it decodes.
Anything else (missing, truncated, from other settings, never recorded) is
generated again; finished images are never rewritten. Images the safety
checker blanks out (flagged, or all black) are regenerated with the next
seed `image_seed(..., attempt + 1)`, and the record lists the blanked seeds.
"""
