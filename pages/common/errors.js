// The texts for every error of the contract (docs/interfaces.md, "Errors"),
// the bridge being unreachable and a card removed mid-flow: Chinese first,
// English beneath. SSCard.errorText(error) gives {zh, en}.
"use strict";

var SSCard = window.SSCard || {};
window.SSCard = SSCard;

SSCard.ERRORS = {
  NoCard: ["未检测到卡片,请插入社会保障卡。", "No card in the reader. Please insert your social security card."],
  Ambiguous: ["读卡器中有多张社会保障卡,请只保留一张。", "More than one social security card is present. Please leave only one."],
  CardRemoved: ["操作过程中卡片被取出,操作未完成。", "The card was removed during the operation; it did not finish."],
  CardReset: ["卡片被其他程序复位,操作未完成,请重试。", "Another program reset the card; the operation did not finish. Please try again."],
  NotSupported: ["这不是可识别的社会保障卡。", "This is not a social security card this station can read."],
  InvalidArgument: ["输入的内容不符合要求,请检查后重试。", "Something entered does not follow the rules. Please check it and try again."],
  PinBlocked: ["密码已锁定,请到柜台办理解锁。", "The PIN is blocked. Please go to a service counter to unblock it."],
  LastTry: ["密码只剩最后一次机会,为防止锁定,请到柜台办理。", "Only one PIN try is left. To avoid blocking the card, please go to a service counter."],
  WrongPin: ["初始密码错误。", "Wrong initial PIN."],
  HolderMismatch: ["身份证号码与卡片不符,或卡片尚未写入持卡人信息。", "The ID number does not match the card, or the card holds no holder record yet."],
  AlreadyActive: ["此卡已经激活,无需再次激活。", "This card is already active."],
  NoSam: ["终端缺少PSAM卡,请联系工作人员。", "The terminal's PSAM is missing. Please ask a member of staff."],
  AuthenticationFailed: ["卡片认证失败,请联系工作人员。", "The card's authentication failed. Please ask a member of staff."],
  CardError: ["卡片返回错误,请联系工作人员。", "The card answered with an error. Please ask a member of staff."],
  NotAuthorized: ["本终端无权执行此操作,请联系工作人员。", "This terminal is not allowed to do this. Please ask a member of staff."],
  ServiceUnavailable: ["读卡服务(PC/SC)不可用,请联系工作人员。", "The card reader service (PC/SC) is not available. Please ask a member of staff."],
  Timeout: ["卡片响应超时,请重试。", "The card did not answer in time. Please try again."],
  Cancelled: ["读卡服务正在关闭,请稍后重试。", "The card service is shutting down. Please try again shortly."],
  Internal: ["读卡服务内部错误,请联系工作人员。", "The card service had an internal error. Please ask a member of staff."],
  BridgeUnreachable: ["无法连接读卡服务,正在重试…", "Cannot reach the card service; retrying…"],
  DaemonUnavailable: ["读卡服务未运行,请联系工作人员。", "The card service is not running. Please ask a member of staff."],
  CardRemovedMidFlow: ["卡片已被取出,激活未完成。", "The card was removed; the activation did not finish."],
  PinsDiffer: ["两次输入的新密码不一致,请重新输入。", "The two new PINs differ. Please enter the new PIN again."],
  PinLength: ["密码为6位数字。", "A PIN is 6 digits."],
  SsnLength: ["身份证号码为18位。", "An ID number is 18 characters."],
  NewPinRule: ["新密码不符合规则:不能是同一数字重复、连续数字或初始密码。", "The new PIN breaks a rule: not one digit repeated, not a run of digits, not the initial PIN."],
  SsnInvalid: ["身份证号码格式不正确,请检查后重新输入。", "The ID number is not valid. Please check it and enter it again."],
  Unknown: ["操作失败,请联系工作人员。", "The operation failed. Please ask a member of staff."],
};

// How many tries the daemon's WrongPin message says are left, or null.
SSCard.triesLeft = function (error) {
  const m = /(\d+) tr(?:y|ies) left/.exec(error && error.message ? error.message : "");
  return m ? Number(m[1]) : null;
};

SSCard.errorText = function (error) {
  let name = error && error.name ? error.name : "Unknown";
  if (name.startsWith("org.freedesktop.DBus.Error.")) name = "DaemonUnavailable";
  // InvalidArgument names the field: the new PIN's rules and the SSN's are
  // said more precisely.
  const message = error && error.message ? error.message : "";
  if (name === "InvalidArgument" && /new_pin/.test(message)) name = "NewPinRule";
  if (name === "InvalidArgument" && /\bssn\b/.test(message)) name = "SsnInvalid";
  const texts = SSCard.ERRORS[name] || SSCard.ERRORS.Unknown;
  let zh = texts[0];
  let en = texts[1];
  if (name === "WrongPin") {
    const left = SSCard.triesLeft(error);
    if (left !== null) {
      zh += "还剩 " + left + " 次机会。";
      en += " " + left + (left === 1 ? " try" : " tries") + " left.";
    }
  }
  return { name: name, zh: zh, en: en };
};
