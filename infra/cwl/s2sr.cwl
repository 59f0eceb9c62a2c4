cwlVersion: v1.2
# s2sr as an EO Application Package (OGC Best Practice for Earth Observation Application
# Packages): one Workflow (the application, what a platform's OGC API - Processes exposes) and
# its CommandLineTool, run in the s2sr container image (infra/build-image.sh).
#
#   cwltool infra/cwl/s2sr.cwl#s2sr --product https://…/items/S2A_… --model s2sr_tiny
#   cwltool infra/cwl/s2sr.cwl#s2sr --product SENTINEL2A_….zip --roi-pixels 0 0 512 512
#
# Output: stac_catalog, a Directory holding a self-contained STAC catalog — catalog.json, which
# links the item (s2sr/ITEM_ID/ITEM_ID.json), whose assets are the COG(s), quicklook and model
# card beside it, all by relative hrefs — what a platform's stage-out step publishes.
$namespaces:
  s: https://schema.org/
s:name: s2sr
s:softwareVersion: 0.1.0
s:description: Sentinel-2 super-resolution to 5 m with ONNX models; Cloud-Optimized GeoTIFF and STAC outputs
s:license: https://spdx.org/licenses/Apache-2.0
s:keywords: [Sentinel-2, super-resolution, COG, STAC]

$graph:
  - class: Workflow
    id: s2sr
    label: Sentinel-2 super-resolution to 5 m
    doc: >-
      Super-resolves one Sentinel-2 product (a STAC item URL, or a Theia / ESA SAFE product
      folder or zip, or a STAC item file) to 5 m with an ONNX model, tile by tile, and returns a
      self-contained STAC catalog of the result (COG + STAC item).
    requirements:
      NetworkAccess:
        networkAccess: true
    inputs:
      product:
        label: input product
        doc: >-
          A STAC item URL (http(s)://, s3://), or a product: Theia L2A/L3A or ESA SAFE L1C/L2A,
          folder (Directory) or zip (File), or a STAC item JSON file.
        type: [string, File, Directory]
      model:
        label: model name
        doc: A built-in (s2sr_tiny, bicubic) or zoo (carn, …) model name; default as s2sr run.
        type: string?
      model_card:
        label: model card
        doc: A model card (.yaml) with its ONNX file beside it (same name, .onnx); instead of model.
        type: File?
      roi:
        label: region of interest (map coordinates)
        doc: LEFT BOTTOM RIGHT TOP in the product's CRS, snapped outward to the source grid.
        type: double[]?
      roi_pixels:
        label: region of interest (source pixels)
        doc: COL0 ROW0 COL1 ROW1 in source-grid pixels from the upper-left corner (COL1/ROW1 exclusive).
        type: int[]?
      tile_size:
        label: tile size
        doc: Output pixels per tile side, margins excluded (default 1000).
        type: int?
      bicubic:
        label: bicubic comparison
        doc: Also write the bicubic comparison COG.
        type: boolean?
      sre:
        label: Theia SRE
        doc: Theia products - read SRE instead of FRE reflectances.
        type: boolean?
      threads:
        label: ONNX Runtime threads
        type: int?
      collection:
        label: output collection id
        type: string?
    outputs:
      stac_catalog:
        label: STAC catalog
        doc: catalog.json, the item and its assets (relative hrefs).
        type: Directory
        outputSource: super_resolve/stac_catalog
    steps:
      super_resolve:
        run: "#s2sr_run"
        in:
          product: product
          model: model
          model_card: model_card
          roi: roi
          roi_pixels: roi_pixels
          tile_size: tile_size
          bicubic: bicubic
          sre: sre
          threads: threads
          collection: collection
        out: [stac_catalog]

  - class: CommandLineTool
    id: s2sr_run
    label: s2sr run --stac-catalog
    requirements:
      DockerRequirement:
        dockerPull: localhost/s2sr:0.1.0
      NetworkAccess:
        networkAccess: true
      ResourceRequirement:
        coresMin: 1
        ramMin: 2048
      EnvVarRequirement:
        envDef:
          # the image's model cache; credentials (AWS_*) come from the runner's environment only
          S2SR_MODELS_DIR: /home/s2sr/.cache/s2sr/models
          # ONNX Runtime keeps files under $XDG_CACHE_HOME (else $HOME/.cache, and HOME is the
          # output directory): keep them out of the output
          XDG_CACHE_HOME: $(runtime.tmpdir)/.cache
    baseCommand: [s2sr, run]
    arguments:
      - prefix: --output
        valueFrom: $(runtime.outdir)
      - --stac-catalog
    inputs:
      product:
        type: [string, File, Directory]
        inputBinding:
          position: 1
      model:
        type: string?
        inputBinding:
          prefix: --model
      model_card:
        type: File?
        secondaryFiles:
          - pattern: ^.onnx
            required: true
        inputBinding:
          prefix: --model
      roi:
        type: double[]?
        inputBinding:
          prefix: --roi
      roi_pixels:
        type: int[]?
        inputBinding:
          prefix: --roi-pixels
      tile_size:
        type: int?
        inputBinding:
          prefix: --tile-size
      bicubic:
        type: boolean?
        inputBinding:
          prefix: --bicubic
      sre:
        type: boolean?
        inputBinding:
          prefix: --sre
      threads:
        type: int?
        inputBinding:
          prefix: --threads
      collection:
        type: string?
        inputBinding:
          prefix: --output-collection
    outputs:
      stac_catalog:
        type: Directory
        outputBinding:
          glob: .
