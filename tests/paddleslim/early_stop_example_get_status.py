"""The get_status example of PaddleSlim 2.6.0's MedianStop API page
(docs/zh_cn/api_cn/static/nas/early_stop.rst), in our own words: the status of an
experiment asked for before any trial, given a loss. A loopback address and a free port
instead of the page's fixed one."""

import paddle  # noqa: F401  (the page's example imports it)
from paddleslim.nas import SANAS
from paddleslim.nas.early_stop import MedianStop

TRIAL, EPOCHS_PER_TRIAL = 10, 7
LOSS = 1.0  # stands for the loss a real network would report at this point

controller = SANAS([("MobileNetV2Space")], server_addr=("127.0.0.1", 0), save_checkpoint=None)
rule = MedianStop(controller, 2)
print(rule.get_status(TRIAL, LOSS, EPOCHS_PER_TRIAL))
