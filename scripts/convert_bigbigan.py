#!/usr/bin/env python3
"""Converts DeepMind's released BigBiGAN TF-Hub module to the folder the kit reads (src/pretrained/).

Run once, on a machine with internet and Python (NOT tested on the kit's machines, which have neither):

    pip install tensorflowjs          # brings TensorFlow 2 and tensorflow_hub
    python scripts/convert_bigbigan.py https://tfhub.dev/deepmind/bigbigan-resnet50/1 models/bigbigan-resnet50

It writes models/bigbigan-resnet50/{encode,generate,discriminate}/model.json (+ weight shards).
Why not `tensorflowjs_converter --input_format=tf_hub --signature_name=encode` alone: for a TF1 hub module
the converter names the placeholders after the input keys (x, z) but keys the outputs by internal tensor
names, so `avepool_feat` and the rest could not be found. Here each signature is applied to placeholders,
every output gets an Identity node named after its key, the graph is frozen, and tensorflowjs_converter
converts the frozen graph with those names as --output_node_names.
"""
import os
import subprocess
import sys
import tempfile

import tensorflow.compat.v1 as tf
import tensorflow_hub as hub

tf.disable_v2_behavior()

SIGNATURES = {
    'encode': ['z_mean', 'z_sample', 'z_stdev', 'avepool_feat', 'bn_crelu_feat'],
    'generate': ['default', 'upsampled'],
    'discriminate': ['score_x', 'score_z', 'score_xz'],
}


def convert(handle, out_dir, signature, outputs):
    graph = tf.Graph()
    with graph.as_default():
        module = hub.Module(handle)
        inputs = {key: tf.placeholder(info.dtype, info.get_shape(), name=key)
                  for key, info in module.get_input_info_dict(signature).items()}
        applied = module(inputs, signature=signature, as_dict=True)
        for key in outputs:
            tf.identity(applied[key], name=key)
        with tf.Session(graph=graph) as sess:
            sess.run([tf.global_variables_initializer(), tf.tables_initializer()])
            frozen = tf.graph_util.convert_variables_to_constants(sess, graph.as_graph_def(), outputs)
    with tempfile.TemporaryDirectory() as tmp:
        pb = os.path.join(tmp, signature + '.pb')
        with open(pb, 'wb') as f:
            f.write(frozen.SerializeToString())
        subprocess.run(['tensorflowjs_converter', '--input_format=tf_frozen_model',
                        '--output_node_names=' + ','.join(outputs), pb, os.path.join(out_dir, signature)], check=True)


def main():
    if len(sys.argv) != 3:
        sys.exit('Usage: python scripts/convert_bigbigan.py HUB_HANDLE OUT_DIR '
                 '(e.g. https://tfhub.dev/deepmind/bigbigan-resnet50/1 models/bigbigan-resnet50)')
    handle, out_dir = sys.argv[1], sys.argv[2]
    for signature, outputs in SIGNATURES.items():
        convert(handle, out_dir, signature, outputs)
    print('wrote %s/{%s}; check it with: npx bigbigan eval --pretrained %s ...' % (out_dir, ','.join(SIGNATURES), out_dir))


if __name__ == '__main__':
    main()
